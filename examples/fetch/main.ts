import { backoff, breakers, circuitBreaker, compose, retry, timeout } from '@breakwater/core';
import { createFetch } from '@breakwater/fetch';

const resilientFetch = createFetch({
  policy: compose(
    timeout(5_000), // total
    retry({ maxAttempts: 3, backoff: backoff.exponential({ initialMs: 100 }) }), // honours Retry-After
    circuitBreaker({ breaker: breakers.consecutive(5), halfOpenAfterMs: 10_000 }),
    timeout(1_000), // per attempt
  ),
});

// GET is retried; a POST only with an Idempotency-Key. A 503 that outlives the retries is returned,
// not thrown; an open circuit or a timeout rejects with its BreakwaterError.
const response = await resilientFetch('http://127.0.0.1:9/health', {
  breakwater: { deadline: Date.now() + 3_000 },
}).catch((error: Error) => error);
console.log(response instanceof Response ? response.status : response.message);
