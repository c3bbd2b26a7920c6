import { backoff, breakers, bulkhead, circuitBreaker, compose, retry, timeout } from '@breakwater/core';

async function getUser(id: string, options: { signal: AbortSignal }): Promise<{ id: string }> {
  options.signal.throwIfAborted();
  return { id };
}

const policy = compose(
  { name: 'users-api' }, // outermost first
  timeout(2_000),
  retry({ maxAttempts: 3, backoff: backoff.exponential({ initialMs: 50, maxMs: 2_000, jitter: 'full' }) }),
  circuitBreaker({ breaker: breakers.consecutive(5), halfOpenAfterMs: 10_000 }),
  bulkhead({ maxConcurrent: 32, maxQueue: 64 }),
);

const user = await policy.execute(({ signal }) => getUser('42', { signal }));
const getUserResilient = policy.wrap(getUser); // (id, options) => Promise<User>, run through the policy
console.log(user, await getUserResilient('7', { signal: AbortSignal.timeout(1_000) }));
