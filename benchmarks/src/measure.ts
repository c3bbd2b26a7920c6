// How every benchmark here times a case: sequential awaited calls, medians of interleaved rounds.

export type Fn = () => Promise<unknown> | unknown;

/** ns per call of `calls` sequential awaited calls. */
export async function measure(run: Fn, calls: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await run();
  return Number(process.hrtime.bigint() - start) / calls;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A ratio with at least two significant digits, so 0.04 does not print as 0.0. */
export function ratio(r: number): string {
  return r >= 0.1 ? r.toFixed(1) : r.toPrecision(2);
}

export function fmt(ns: number): string {
  return Math.abs(ns) >= 1_000 ? `${(ns / 1_000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
}

export interface Timed {
  label: string;
  run: Fn;
  /** Calls per sample. */
  calls: number;
}

/**
 * The median ns per call of each case over `rounds` rounds; every round runs every case once, in an
 * order rotated each round, so drift in CPU speed spreads over all cases.
 */
export async function interleaved(
  cases: Timed[],
  rounds: number,
  label: string,
): Promise<Map<Timed, number>> {
  const samples = new Map<Timed, number[]>(cases.map((c) => [c, []]));
  for (const c of cases) await measure(c.run, c.calls); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length]!;
      samples.get(c)!.push(await measure(c.run, c.calls));
    }
    const progress = `${label}: round ${round + 1}/${rounds}`;
    process.stderr.write(process.stderr.isTTY ? `\r${progress}` : `${progress}\n`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return new Map([...samples].map(([c, ns]) => [c, median(ns)]));
}
