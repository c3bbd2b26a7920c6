// Seeded randomness and the latency distributions the scenarios draw from.

import type { Random } from '@breakwater/core';

/** mulberry32: a small, fast 32-bit generator; the same seed gives the same run. */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A latency distribution in ms. */
export type Distribution = (random: Random) => number;

/** Box–Muller: one standard normal draw. */
function normal(random: Random): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export const dist = {
  constant:
    (ms: number): Distribution =>
    () =>
      ms,
  uniform:
    (minMs: number, maxMs: number): Distribution =>
    (random) =>
      minMs + (maxMs - minMs) * random(),
  exponential:
    (meanMs: number): Distribution =>
    (random) =>
      -meanMs * Math.log(1 - random()),
  /** Log-normal with the given median; `sigma` is the spread of the log (0.5: p99 ≈ 3.2 × median). */
  lognormal:
    (medianMs: number, sigma: number): Distribution =>
    (random) =>
      medianMs * Math.exp(sigma * normal(random)),
  /** `slow` with probability `rate`, else `base`: a body with rare hiccups. */
  mixture:
    (base: Distribution, rate: number, slow: Distribution): Distribution =>
    (random) =>
      random() < rate ? slow(random) : base(random),
};
