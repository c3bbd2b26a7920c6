/** A reading of a policy's live state (a bulkhead's calls running, a circuit's state). */
export interface GaugeReading {
  readonly kind: string;
  /** The policy's name. */
  readonly name: string;
  /** What is measured: `'executing'`, `'queued'`, `'state'`, … */
  readonly gauge: string;
  readonly value: number;
}

/** Something with gauges; a policy holds it, the registry only refers to it weakly. */
export interface GaugeSource {
  read(): GaugeReading[];
}

/** Where a policy keeps its gauge source, so that the source lives as long as the policy. */
export const GAUGES: unique symbol = Symbol('breakwater.gauge-source');

// On globalThis under a `Symbol.for` key, so telemetry finds the gauges of every installed copy of
// core without depending on one, and a policy nobody holds any more drops out on its own.
const KEY = Symbol.for('breakwater.gauges');

function registry(): Set<WeakRef<GaugeSource>> {
  const holder = globalThis as { [KEY]?: Set<WeakRef<GaugeSource>> };
  let set = holder[KEY];
  if (set === undefined) {
    set = new Set();
    holder[KEY] = set;
  }
  return set;
}

/** Makes a source's gauges readable by `readGauges()`; the caller must keep `source` alive. */
export function registerGauges(source: GaugeSource): GaugeSource {
  registry().add(new WeakRef(source));
  return source;
}

/** Current readings of every live policy's gauges (for telemetry: `@breakwater/otel` reads them). */
export function readGauges(): GaugeReading[] {
  const readings: GaugeReading[] = [];
  const set = registry();
  for (const ref of set) {
    const source = ref.deref();
    if (source === undefined) set.delete(ref);
    else readings.push(...source.read());
  }
  return readings;
}

/** The numbers a circuit's state is reported as. */
export const CIRCUIT_STATE_VALUES = Object.freeze({ closed: 0, 'half-open': 1, open: 2, isolated: 3 });
