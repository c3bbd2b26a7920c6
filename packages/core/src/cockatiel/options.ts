/** The part of a cockatiel 3/4 policy Breakwater calls: `execute(fn, signal)`. */
export interface CockatielPolicyLike {
  execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T>;
}

export interface FromCockatielOptions {
  /** Name in events and telemetry. @default 'cockatiel' */
  name?: string;
}

export const FROM_COCKATIEL_DEFAULTS = Object.freeze({ name: 'cockatiel' });
