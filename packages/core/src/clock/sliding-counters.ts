/**
 * Counters over a sliding window of time buckets: `series` counters per bucket in one ring of
 * `slots` buckets of `bucketMs` each. Buckets that fall out of the ring are emptied as time moves;
 * a clock that goes back counts into the newest bucket.
 */
export class SlidingCounters {
  private readonly counts: Float64Array;
  /** Running totals per series over every slot, so whole-window sums cost nothing. */
  private readonly totals: Float64Array;
  private current = Number.NEGATIVE_INFINITY; // index (time / bucketMs) of the newest bucket

  constructor(
    private readonly series: number,
    private readonly slots: number,
    private readonly bucketMs: number,
  ) {
    this.counts = new Float64Array(series * slots);
    this.totals = new Float64Array(series);
  }

  /** The index (time / bucketMs) of the newest bucket: it changes whenever the window slides. */
  get newest(): number {
    return this.current;
  }

  private slotOf(index: number): number {
    return ((index % this.slots) + this.slots) % this.slots;
  }

  /** Moves the window to `now`; returns the newest bucket's slot. */
  advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (index > this.current) {
      if (index - this.current >= this.slots) {
        this.counts.fill(0);
        this.totals.fill(0);
      } else {
        for (let i = this.current + 1; i <= index; i++) {
          const base = this.slotOf(i) * this.series;
          for (let s = 0; s < this.series; s++) this.totals[s]! -= this.counts[base + s]!;
          this.counts.fill(0, base, base + this.series);
        }
      }
      this.current = index;
    }
    return this.slotOf(this.current);
  }

  add(series: number, slot: number, amount = 1): void {
    this.counts[slot * this.series + series]! += amount;
    this.totals[series]! += amount;
  }

  /** The sum of one series over the `newest` newest buckets (after `advance`). */
  sum(series: number, newest: number = this.slots): number {
    if (newest >= this.slots) return this.totals[series]!;
    if (newest === this.slots - 1) {
      return this.totals[series]! - this.counts[this.slotOf(this.current + 1) * this.series + series]!;
    }
    let total = 0;
    for (let k = 0; k < newest; k++)
      total += this.counts[this.slotOf(this.current - k) * this.series + series]!;
    return total;
  }
}
