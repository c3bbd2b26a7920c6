import { limits } from '@breakwater/core';
import { breakwater, keys } from '@breakwater/express';
import express from 'express';

const app = express();
// Every route: shed what 8 in flight cannot take, 5 requests a second per client, 2 s per request.
app.use(
  breakwater({
    loadShed: { limit: limits.fixed(8) },
    rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 5, burst: 5 }) },
    timeout: 2_000,
    key: keys.ip(),
  }),
);
app.get('/orders/:id', async (req, res) => {
  const { signal, deadline } = req.breakwater!; // aborts if the client leaves or time runs out
  await new Promise((resolve) => setTimeout(resolve, 10, { signal }));
  res.json({ id: req.params.id, answerBy: deadline === undefined ? null : new Date(deadline).toISOString() });
});

const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as { port: number };
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/orders/${i}`)).status);
  console.log(statuses.join(' ')); // the sixth and seventh are over the rate limit
  server.close();
});
