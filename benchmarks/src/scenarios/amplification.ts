// Scenario 3: retries at every layer multiply (Google SRE book, "Addressing Cascading Failures":
// the attempts are the product of each layer's); a retry budget at every layer, with the layer
// that gives up answering "overloaded; don't retry" ("Handling Overload"), keeps it near 1.1×.

import { type Policy, retry, retryBudget } from '@breakwater/core';
import { Downstream, dist, drive, markdownTable, seeded, VirtualClock } from '../sim/index.js';
import type { Check, ScenarioOptions, ScenarioResult } from './types.js';

const LAYERS = 3;
const ATTEMPTS = 3;
const RATE_PER_SEC = 1_000;

/** What a layer answers once it has given up: the SRE book's "overloaded; don't retry". */
class GaveUp extends Error {
  readonly retryable = false;
}

type Variant = 'none' | 'budget' | 'budget+no-retry';

async function amplify(variant: Variant, options: ScenarioOptions): Promise<number> {
  const clock = new VirtualClock();
  const random = seeded(options.seed);
  // Every request fails: the worst case the budget is for.
  const backend = new Downstream({
    clock,
    random,
    workers: 1_000_000,
    service: dist.constant(1),
    faultRate: 1,
  });
  let call: () => Promise<void> = () => backend.call();
  for (let layer = 1; layer <= LAYERS; layer++) {
    const below = call;
    const policy: Policy = retry({
      maxAttempts: ATTEMPTS,
      budget: variant === 'none' ? undefined : retryBudget({ clock }),
      clock,
      random,
    });
    call =
      variant === 'budget+no-retry'
        ? () =>
            policy.execute(below).catch((error: unknown) => {
              throw error instanceof GaveUp ? error : new GaveUp('gave up', { cause: error });
            })
        : () => policy.execute(below);
  }
  // 27× is the same for every call, so the unbudgeted run is short; budgets need their windows filled.
  const durationMs = options.smoke ? 3_000 : variant === 'none' ? 5_000 : 60_000;
  let calls = 0;
  await drive(clock, {
    untilMs: durationMs + 60_000,
    loads: [
      {
        random,
        ratePerSec: RATE_PER_SEC,
        durationMs,
        onArrival: () => {
          calls++;
          return call().catch(() => undefined);
        },
      },
    ],
  });
  return backend.arrived / calls;
}

export async function amplificationScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const none = await amplify('none', options);
  const budget = await amplify('budget', options);
  const guarded = await amplify('budget+no-retry', options);
  const table = markdownTable(
    ['each of 3 layers', 'backend calls per call'],
    [
      ['retry, 3 attempts', `${none.toFixed(2)}×`],
      ['retry, 3 attempts, 10% `retryBudget`', `${budget.toFixed(3)}×`],
      [
        'retry, 3 attempts, 10% `retryBudget`, a layer that gave up answers `retryable: false`',
        `${guarded.toFixed(3)}×`,
      ],
    ],
  );
  const checks: Check[] = [
    {
      target: '3 layers × 3 attempts at 100% failure = 27×',
      figure: `${none.toFixed(2)}×`,
      met: Math.abs(none - 27) < 0.01,
    },
    {
      target: 'with a 10% `retryBudget` at every layer ≤ 1.12×',
      figure: `${guarded.toFixed(3)}×`,
      met: guarded <= 1.12,
    },
  ];
  return {
    title: '3. Retry amplification',
    anchor:
      'Google SRE book: retries multiply across layers (3 layers × 3 attempts = 27×); a 10% per-client retry budget holds it to ~1.1×',
    body: [
      `A backend failing every request, behind three layers that each retry (default backoff), ${RATE_PER_SEC.toLocaleString('en-US')} calls/s (a minute with budgets, whose windows must fill; 5 s without). A budget alone at every layer still compounds (1.1³ ≈ 1.33); the SRE book pairs it with the layer that gave up telling its callers not to retry — in Breakwater an error with \`retryable: false\`, which every \`retry\` honours.`,
      '',
      table,
    ].join('\n'),
    checks,
    charts: [],
  };
}
