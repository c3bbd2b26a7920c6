import { SlidingCounters } from '../clock/sliding-counters.js';

/**
 * A streaming estimate of a latency percentile over a sliding window, in bounded memory: latencies
 * fall into log-spaced buckets 5% wide (from 1 ms up to about 18 hours), kept per sixth of the
 * window. The percentile is read as the upper edge of the bucket holding that rank, so it is at
 * most 5% high and never low. Recomputed every 16 samples and when the window slides, not on every read.
 */
export class LatencyEstimate {
  private static readonly GROWTH = 1.05;
  private static readonly BUCKETS = 350; // 1.05^350 ms ≈ 18 h
  private static readonly SLOTS = 6;
  private readonly counters: SlidingCounters;
  private readonly logGrowth = Math.log(LatencyEstimate.GROWTH);
  private sinceComputed = 0;
  private cached: number | undefined;
  private bucketIndex = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly percentile: number,
    windowMs: number,
    private readonly minSamples: number,
  ) {
    // One series per bucket plus one for the count of samples.
    this.counters = new SlidingCounters(
      LatencyEstimate.BUCKETS + 1,
      LatencyEstimate.SLOTS,
      windowMs / LatencyEstimate.SLOTS,
    );
  }

  private bucketOf(ms: number): number {
    if (!(ms > 1)) return 0;
    return Math.min(LatencyEstimate.BUCKETS - 1, Math.ceil(Math.log(ms) / this.logGrowth));
  }

  /** Moves the window; a slide to another sixth drops the cached value. */
  private advance(now: number): number {
    const slot = this.counters.advance(now);
    if (this.counters.newest !== this.bucketIndex) {
      this.bucketIndex = this.counters.newest;
      this.cached = undefined;
    }
    return slot;
  }

  record(ms: number, now: number): void {
    const slot = this.advance(now);
    this.counters.add(this.bucketOf(ms), slot);
    this.counters.add(LatencyEstimate.BUCKETS, slot);
    if (++this.sinceComputed >= 16) this.cached = undefined;
  }

  /** The percentile now, or `undefined` before `minSamples` latencies are in the window. */
  value(now: number): number | undefined {
    this.advance(now);
    if (this.cached !== undefined) return this.cached;
    const total = this.counters.sum(LatencyEstimate.BUCKETS);
    if (total < this.minSamples) return undefined;
    const rank = Math.ceil(this.percentile * total);
    let seen = 0;
    for (let bucket = 0; bucket < LatencyEstimate.BUCKETS; bucket++) {
      seen += this.counters.sum(bucket);
      if (seen >= rank) {
        this.cached = LatencyEstimate.GROWTH ** bucket;
        this.sinceComputed = 0;
        return this.cached;
      }
    }
    return undefined;
  }
}
