import { limits, memoryCacheStore, memoryIdempotencyStore } from '@breakwater/core';
import { breakwater, keys } from '@breakwater/express';
import express from 'express';

// A small orders API. Every route: shed what 8 in flight cannot take; per tenant, bursts of 5 then 2
// requests a second (RateLimit headers on every answer); 2 s per request. POSTs need an
// Idempotency-Key and run once per tenant and key; GETs are served from a 5 s cache, one handler run
// per order at a time.
const orders = new Map<string, { id: string; item: string }>();
const app = express();
app.use(express.json());
app.use(
  breakwater({
    key: keys.header('x-tenant'), // in a real service, the tenant your authentication gives // in a real service, the tenant your authentication gives
    loadShed: { limit: limits.fixed(8) },
    rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 2, burst: 5 }) },
    timeout: 2_000,
    idempotency: { store: memoryIdempotencyStore(), required: true },
    cache: { store: memoryCacheStore(), ttlMs: 5_000 },
  }),
);
app.post('/orders', (req, res) => {
  const order = { id: String(orders.size + 1), item: String(req.body.item) };
  orders.set(order.id, order);
  res.status(201).location(`/orders/${order.id}`).json(order);
});
app.get('/orders/:id', async (req, res) => {
  const { signal } = req.breakwater!; // aborts if the client leaves or time runs out
  await new Promise((resolve) => setTimeout(resolve, 10, { signal }));
  const order = orders.get(req.params.id);
  if (order === undefined) res.status(404).json({ error: 'no such order' });
  else res.json(order);
});

const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
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
  console.log('RateLimit:', reads[3]!.headers.get('ratelimit')); // the tenant's sixth request this second // the tenant's sixth request this second
  server.close();
});
