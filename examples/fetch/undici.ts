import { backoff, compose, retry, timeout } from '@breakwater/core';
import { interceptor } from '@breakwater/fetch';
import { Agent, interceptors, request } from 'undici';
import { localServer } from '../local-server.js';

const server = await localServer((_req, res, n) => {
  if (n === 1) res.writeHead(302, { location: '/moved' }).end();
  else if (n === 2) res.writeHead(503).end('busy');
  else res.end(`ok on request ${n}`);
});

// Interceptors run last-listed first: Breakwater's, listed last, sees each request as one call,
// redirects and all; undici's redirect and dns run inside it, once per attempt.
const dispatcher = new Agent().compose(
  interceptors.dns(),
  interceptors.redirect({ maxRedirections: 3 }),
  interceptor(
    compose(
      timeout(5_000),
      retry({ maxAttempts: 3, backoff: backoff.exponential({ initialMs: 50 }) }),
      timeout(1_000),
    ),
  ),
);

const { statusCode, body } = await request(server.url, { dispatcher });
console.log(statusCode, await body.text(), `after ${server.requests()} requests`);
await dispatcher.close();
server.close();
