/** An option that must be an array whose every item passes `ok`; a clear error naming it otherwise. */
export function listOption<T>(
  adapter: string,
  name: string,
  value: unknown,
  ok: (item: unknown) => boolean,
  what: string,
): T[] {
  if (!Array.isArray(value) || !value.every(ok)) {
    throw new TypeError(`${adapter}: option "${name}" must be an array of ${what}`);
  }
  return value as T[];
}

const isMethod = (m: unknown) => typeof m === 'string' && m !== '';

/** A list of HTTP methods, upper-cased. */
export const methodsOption = (adapter: string, name: string, value: unknown): Set<string> =>
  new Set(listOption<string>(adapter, name, value, isMethod, 'method names').map((m) => m.toUpperCase()));
