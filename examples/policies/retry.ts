import { backoff, retry } from '@breakwater/core';

const policy = retry({
  maxAttempts: 5,
  backoff: backoff.exponential({ initialMs: 100, maxMs: 5_000, jitter: 'decorrelated' }),
  // Retry errors (not the caller's own abort) and 'busy' answers; give up on anything else.
  retryOn: (outcome) => ('error' in outcome ? true : outcome.value === 'busy'),
});
policy.onRetry(({ attempt, delayMs }) =>
  console.log(`attempt ${attempt} failed; next in ${delayMs.toFixed(0)} ms`),
);

let calls = 0;
console.log(await policy.execute(() => (++calls < 3 ? 'busy' : 'done')));
