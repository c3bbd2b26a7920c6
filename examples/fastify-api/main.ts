import { limits, memoryCacheStore, memoryIdempotencyStore } from '@breakwater/core';
import { breakwater, keys } from '@breakwater/fastify';
import Fastify from 'fastify';

// The same orders API as examples/express-api, on Fastify: shedding, bursts of 5 then 2 requests a second per tenant,
// 2 s per request, idempotent POSTs and a cached GET.
const orders = new Map<string, { id: string; item: string }>();
const app = Fastify();
await app.register(breakwater, {
  key: keys.header('x-tenant'), // in a real service, the tenant your authentication gives
  loadShed: { limit: limits.fixed(8) },
  rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 2, burst: 5 }) },
  timeout: 2_000,
  idempotency: { store: memoryIdempotencyStore(), required: true },
  cache: { store: memoryCacheStore(), ttlMs: 5_000 },
});
app.post('/orders', async (request, reply) => {
  const order = { id: String(orders.size + 1), item: String((request.body as { item: unknown }).item) };
  orders.set(order.id, order);
  return reply.code(201).header('location', `/orders/${order.id}`).send(order);
});
app.get('/orders/:id', async (request, reply) => {
  const { signal } = request.breakwater!; // aborts if the client leaves or time runs out
  await new Promise((resolve) => setTimeout(resolve, 10, { signal }));
  const order = orders.get((request.params as { id: string }).id);
  return order ?? reply.code(404).send({ error: 'no such order' });
});
// A route of its own: a shorter timeout, answered 504 as a gateway would.
app.get('/reports', { config: { breakwater: { timeout: { ms: 50, gateway: true } } } }, async (request) => {
  await new Promise((resolve) => setTimeout(resolve, 1_000, { signal: request.breakwater!.signal })).catch(
    () => {},
  );
  return { never: 'sent' };
});

await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const tenant = { 'x-tenant': 'acme', 'content-type': 'application/json' };
const create = () =>
  fetch(`${url}/orders`, {
    method: 'POST',
    headers: { ...tenant, 'idempotency-key': '"order-7f3a"' },
    body: JSON.stringify({ item: 'book' }),
  });
const first = await create();
const again = await create(); // a retry of the same request: replayed, not run again
console.log(first.status, await first.text(), again.status, again.headers.get('idempotent-replayed'));
const reads = [];
for (let i = 0; i < 4; i++) reads.push(await fetch(`${url}/orders/1`, { headers: tenant }));
console.log(reads.map((r) => `${r.status} ${r.headers.get('cache-status')}`).join(', '));
console.log('RateLimit:', reads[3]!.headers.get('ratelimit')); // the tenant's sixth request this second
console.log((await fetch(`${url}/reports`, { headers: { 'x-tenant': 'beta' } })).status);
await app.close();
