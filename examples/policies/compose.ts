import {
  backoff,
  breakers,
  bulkhead,
  circuitBreaker,
  compose,
  type PolicyContext,
  retry,
  timeout,
} from '@breakwater/core';

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

// Give the work ctx.signal: it aborts on the policy's timeout and on the caller's signal alike.
const user = await policy.execute(({ signal }) => getUser('42', { signal }), {
  signal: AbortSignal.timeout(5_000), // the caller's own limit; per-call options go to execute
});

// wrap: the context comes as an extra last argument, so the wrapped function passes ctx.signal on.
// (Wrapping getUser itself would hand it the caller's signal, which the policy's timeout cannot abort.)
const getUserResilient = policy.wrap((id: string, ctx: PolicyContext) => getUser(id, { signal: ctx.signal }));
console.log(user, await getUserResilient('7')); // (id: string) => Promise<{ id: string }>
