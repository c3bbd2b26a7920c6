import { limits } from '@breakwater/core';
import { breakwater } from '@breakwater/fastify';
import Fastify from 'fastify';

const app = Fastify();
// Shed what 8 in flight cannot take, 5 requests a second in all, 2 s per request.
await app.register(breakwater, {
  loadShed: { limit: limits.fixed(8) },
  rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 5, burst: 5 }) },
  timeout: 2_000,
});
app.get('/orders/:id', async (request) => {
  const { signal } = request.breakwater!; // aborts if the client leaves or time runs out
  await new Promise((resolve) => setTimeout(resolve, 10, { signal }));
  return { id: (request.params as { id: string }).id };
});
// A route of its own: a shorter timeout, answered 504 as a gateway would.
app.get('/reports', { config: { breakwater: { timeout: { ms: 50, gateway: true } } } }, async (request) => {
  await new Promise((resolve) => setTimeout(resolve, 1_000, { signal: request.breakwater!.signal })).catch(
    () => {},
  );
  return { never: 'sent' };
});

await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };
const statuses: number[] = [];
for (let i = 0; i < 7; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/orders/${i}`)).status);
console.log(statuses.join(' '));
await new Promise((resolve) => setTimeout(resolve, 1_100)); // the rate limit fills again
console.log((await fetch(`http://127.0.0.1:${port}/reports`)).status);
await app.close();
