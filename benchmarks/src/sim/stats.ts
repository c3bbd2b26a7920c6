// Figures from a run: percentiles of recorded latencies and counts over time.

/** The q-quantile (0–1) of `values`, nearest rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Counts per named series in fixed time buckets. */
export class Timeline {
  private readonly series = new Map<string, number[]>();

  constructor(
    readonly bucketMs: number,
    readonly startMs = 0,
  ) {}

  add(name: string, atMs: number, n = 1): void {
    let counts = this.series.get(name);
    if (counts === undefined) {
      counts = [];
      this.series.set(name, counts);
    }
    const bucket = Math.floor((atMs - this.startMs) / this.bucketMs);
    if (bucket < 0) return;
    while (counts.length <= bucket) counts.push(0);
    counts[bucket]! += n;
  }

  /** Counts of one series, one per bucket, `buckets` long. */
  counts(name: string, buckets: number): number[] {
    const counts = this.series.get(name) ?? [];
    return Array.from({ length: buckets }, (_, i) => counts[i] ?? 0);
  }

  /** Per-second rates of one series. */
  rates(name: string, buckets: number): number[] {
    return this.counts(name, buckets).map((n) => (n * 1_000) / this.bucketMs);
  }
}

export const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
