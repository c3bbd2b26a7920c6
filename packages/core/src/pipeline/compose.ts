import { type Clock, systemClock } from '../clock/clock.js';
import { checkOptions, clockOption, nameOption } from '../errors/validate.js';
import {
  type AddsOf,
  type AnyPolicy,
  type Layer,
  layersOf,
  OutcomeEvents,
  type Policy,
  PolicyImpl,
} from './policy.js';

export interface ComposeOptions {
  /** The pipeline's name in events and telemetry. @default 'pipeline' */
  name?: string;
  /** Times the pipeline's own `onSuccess`/`onFailure` `durationMs`. @default the system clock */
  clock?: Clock;
}

function isPolicy(value: unknown): value is AnyPolicy {
  return typeof value === 'object' && value !== null && typeof (value as AnyPolicy).execute === 'function';
}

/** Finds options that contradict each other across the pipeline, outermost first. */
function checkLayers(layers: readonly Layer[]): void {
  for (let i = 0; i < layers.length; i++) {
    const outer = layers[i]!;
    const outerMs = outer.meta.timeoutMs;
    if (typeof outerMs !== 'number') continue;
    for (let j = i + 1; j < layers.length; j++) {
      const inner = layers[j]!;
      const { hedgeDelayMs, maxHedges } = inner.meta;
      if (
        typeof hedgeDelayMs === 'number' &&
        typeof maxHedges === 'number' &&
        hedgeDelayMs * maxHedges >= outerMs
      ) {
        throw new RangeError(
          `compose: hedge "${inner.name}" (${maxHedges} × ${hedgeDelayMs} ms, position ${j + 1}) would start hedges ` +
            `at or past the timeout "${outer.name}" (${outerMs} ms, position ${i + 1}) around it; ` +
            'shorten delayMs or maxHedges, or lengthen the timeout',
        );
      }
      const innerMs = inner.meta.timeoutMs;
      if (typeof innerMs === 'number' && innerMs > outerMs) {
        throw new RangeError(
          `compose: timeout "${inner.name}" (${innerMs} ms, position ${j + 1}) is longer than the timeout ` +
            `"${outer.name}" (${outerMs} ms, position ${i + 1}) around it, so it can never fire; ` +
            'make the inner (per-attempt) timeout shorter than the outer (total) one',
        );
      }
    }
  }
}

/**
 * Composes policies into one, outermost first: `compose(timeout(2000), retry())` times out the
 * whole retried call. Nested pipelines are flattened (their own events still fire). An optional
 * first argument `{ name, clock }` names the pipeline and times its events.
 */
export function compose<P extends AnyPolicy[]>(...policies: P): Policy<AddsOf<P[number]>>;
export function compose<P extends AnyPolicy[]>(
  options: ComposeOptions,
  ...policies: P
): Policy<AddsOf<P[number]>>;
export function compose(...args: unknown[]): AnyPolicy {
  let name = 'pipeline';
  let clock: Clock = systemClock;
  let rest = args;
  const first = args[0];
  if (first !== undefined && !isPolicy(first)) {
    checkOptions('compose', first, ['name', 'clock']);
    const options = first as ComposeOptions;
    name = nameOption('compose', options.name, name);
    clock = clockOption('compose', options.clock, clock);
    rest = args.slice(1);
  }
  const layers: Layer[] = [];
  rest.forEach((policy, index) => {
    if (!isPolicy(policy)) {
      throw new TypeError(
        `compose: argument ${index + 1} is not a policy (got ${policy === null ? 'null' : typeof policy})`,
      );
    }
    // A layer that is a pass-through for good (a disabled chaos policy) costs nothing in a pipeline.
    for (const layer of layersOf(policy)) if (layer.meta.transparent !== true) layers.push(layer);
  });
  checkLayers(layers);
  const now = clock === systemClock ? systemClock.now : () => clock.now();
  return new PolicyImpl('pipeline', name, layers, name, new OutcomeEvents('pipeline', name, now));
}
