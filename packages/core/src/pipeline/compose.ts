import { systemClock } from '../clock/clock.js';
import { optionError } from '../errors/validate.js';
import { type Layer, layersOf, OutcomeEvents, type Policy, PolicyImpl } from './policy.js';

export interface ComposeOptions {
  /** The pipeline's name in events and telemetry. @default 'pipeline' */
  name?: string;
}

function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && typeof (value as Policy).execute === 'function';
}

/** Finds options that contradict each other across the pipeline, outermost first. */
function checkLayers(layers: readonly Layer[]): void {
  for (let i = 0; i < layers.length; i++) {
    const outer = layers[i]!;
    const outerMs = outer.meta.timeoutMs;
    if (typeof outerMs !== 'number') continue;
    for (let j = i + 1; j < layers.length; j++) {
      const inner = layers[j]!;
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
 * whole retried call. Nested pipelines are flattened. An optional first argument `{ name }` names
 * the pipeline.
 */
export function compose(options: ComposeOptions, ...policies: Policy[]): Policy;
export function compose(...policies: Policy[]): Policy;
export function compose(...args: Array<Policy | ComposeOptions>): Policy {
  let name = 'pipeline';
  let rest = args;
  const first = args[0];
  if (first !== undefined && !isPolicy(first)) {
    if (typeof first !== 'object' || first === null) {
      throw optionError('compose', 'first argument', 'a policy or { name }', first);
    }
    const given = (first as ComposeOptions).name;
    if (given !== undefined) {
      if (typeof given !== 'string' || given === '')
        throw optionError('compose', 'name', 'a non-empty string', given);
      name = given;
    }
    rest = args.slice(1);
  }
  const layers: Layer[] = [];
  rest.forEach((policy, index) => {
    if (!isPolicy(policy)) {
      throw new TypeError(
        `compose: argument ${index + 1} is not a policy (got ${policy === null ? 'null' : typeof policy})`,
      );
    }
    layers.push(...layersOf(policy));
  });
  checkLayers(layers);
  return new PolicyImpl('pipeline', name, layers, name, new OutcomeEvents('pipeline', name, systemClock.now));
}
