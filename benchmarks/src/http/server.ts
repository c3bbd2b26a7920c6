// One server of the HTTP benchmark, in a process of its own (the load generator runs in another, so
// the two do not share a core): `node --import tsx server.ts <framework> <stack>`. Prints its port.
//   stacks: bare · breakwater (timeout + loadShed + rateLimit) · peers (the same job done by the
//   frameworks' usual plugins) · overload-bare, overload-timeout, overload-shed (a handler of fixed
//   capacity, for the overload run).
import type { AddressInfo } from 'node:net';
import { limits, systemClock } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as fastifyBreakwater } from '@breakwater/fastify';
import { keys, type ServerOptions } from '@breakwater/http';
import rateLimitPlugin from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import express from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import Fastify from 'fastify';
import { Downstream, dist, seeded } from '../sim/index.js';

const [framework, stack] = process.argv.slice(2) as ['express' | 'fastify', string];

// A limit no request reaches, so every request pays for the check and none is refused.
const UNREACHED = 1e9;
const BREAKWATER_ALL: ServerOptions = {
  timeout: 10_000,
  loadShed: { limit: limits.aimd() },
  rateLimit: { limiter: limits.tokenBucket({ ratePerSec: UNREACHED, burst: UNREACHED }) },
  key: keys.ip(),
};
// BW_ONLY=timeout,loadShed,… keeps only those options (to find what a cost comes from).
const only = process.env.BW_ONLY?.split(',');
const BREAKWATER: ServerOptions =
  only === undefined
    ? BREAKWATER_ALL
    : {
        deadline: false,
        ...Object.fromEntries(Object.entries(BREAKWATER_ALL).filter(([k]) => only.includes(k))),
      };

// The overload run: the scenario kit's simulated downstream on real timers, 4 workers, log-normal
// service times around 20 ms (~176 requests a second). A request with a signal leaves the queue or
// service when it aborts; one without (the bare server learns nothing of its client) is worked anyway.
export const WORKERS = 4;
const downstream = new Downstream({
  clock: systemClock,
  random: seeded(11),
  workers: WORKERS,
  service: dist.lognormal(20, 0.5),
});
/** Serves a request at the fixed capacity; false when its signal aborted first. */
const fixedCapacity = (signal: AbortSignal | undefined): Promise<boolean> =>
  downstream.call(signal).then(
    () => true,
    () => false,
  );
const OVERLOAD: Record<string, ServerOptions | undefined> = {
  'overload-bare': undefined,
  'overload-timeout': { timeout: 1_000 },
  'overload-shed': {
    timeout: 1_000,
    loadShed: {
      limit: limits.gradient({ initial: WORKERS, longWindow: 2_000 }),
      maxQueue: WORKERS * 5,
      queueTimeoutMs: 50,
    },
  },
};

const overload = stack.startsWith('overload-');
let port: number;
if (framework === 'express') {
  const app = express();
  if (stack === 'breakwater') app.use(expressBreakwater(BREAKWATER));
  if (stack === 'peers') {
    app.use(
      expressRateLimit({
        windowMs: 60_000,
        limit: UNREACHED,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
      }),
    );
  }
  const options = OVERLOAD[stack];
  if (options !== undefined) app.use(expressBreakwater(options));
  app.get('/', async (req, res) => {
    if (overload && !(await fixedCapacity(req.breakwater?.signal))) return;
    if (!res.headersSent) res.json({ hello: 'world' });
  });
  const server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
} else {
  const app = Fastify();
  if (stack === 'breakwater') await app.register(fastifyBreakwater, BREAKWATER);
  if (stack === 'peers') {
    await app.register(underPressure, { maxEventLoopDelay: 1_000 });
    await app.register(rateLimitPlugin, { max: UNREACHED, timeWindow: 60_000 });
  }
  const options = OVERLOAD[stack];
  if (options !== undefined) await app.register(fastifyBreakwater, options);
  app.get('/', async (request, reply) => {
    if (overload && !(await fixedCapacity(request.breakwater?.signal))) return reply;
    return { hello: 'world' };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  app.server.keepAliveTimeout = 60_000;
  port = (app.server.address() as AddressInfo).port;
}
// Exit on a signal as on a normal end (so `--cpu-prof` writes its profile).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
process.stdout.write(`${port}\n`);
