import { backoff, breakers, circuitBreaker, compose, retry, timeout } from '@breakwater/core';
import { createFetch } from '@breakwater/fetch';
import { localServer } from '../local-server.js';

// Two 503s (the first with Retry-After: 1), then a stall, then an answer.
const server = await localServer((_req, res, n) => {
  if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end('busy');
  else if (n === 2) res.writeHead(503).end('busy');
  else if (n === 3) setTimeout(() => res.end('too late'), 5_000);
  else res.end(`ok on request ${n}`);
});

const attempts = retry({ maxAttempts: 5, backoff: backoff.exponential({ initialMs: 100 }) }); // honours Retry-After
attempts.onRetry(({ attempt, delayMs, error }) =>
  console.log(`attempt ${attempt} failed (${(error as Error).message}); next in ${delayMs.toFixed(0)} ms`),
);
const resilientFetch = createFetch({
  policy: compose(
    timeout(5_000), // total
    attempts,
    circuitBreaker({ breaker: breakers.consecutive(5), halfOpenAfterMs: 10_000 }),
    timeout(500), // per attempt: the stalled request is cut and retried
  ),
});

// GET is retried; a POST only with an Idempotency-Key. A 503 that outlives the retries is returned,
// not thrown; an open circuit or a timeout rejects with its BreakwaterError.
const response = await resilientFetch(server.url, { breakwater: { deadline: Date.now() + 4_000 } });
console.log(response.status, await response.text(), `after ${server.requests()} requests`);
server.close();
