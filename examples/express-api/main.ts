import { limits } from '@breakwater/core';
import { breakwater } from '@breakwater/express';
import express from 'express';

const app = express();
// Every route: shed what 8 in flight cannot take, 5 requests a second in all, 2 s per request. (A limit
// per client takes a key and a limiter with forKey, such as redisRateLimiter: key: keys.ip().)
app.use(
  breakwater({
    loadShed: { limit: limits.fixed(8) },
    rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 5, burst: 5 }) },
    timeout: 2_000,
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
