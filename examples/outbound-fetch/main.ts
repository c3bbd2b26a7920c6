import { compose, hedge, presets } from '@breakwater/core';
import { createFetch } from '@breakwater/fetch';
import { localServer } from '../local-server.js';

// A downstream whose second request stalls for 2 s; it reports the deadline each request brought.
const server = await localServer((req, res, n) => {
  const left = req.headers['x-request-timeout-ms'];
  setTimeout(() => res.end(`answer ${n}, ${left} ms left`), n === 2 ? 2_000 : 10);
});

// The HTTP preset (bulkhead, total timeout, retry, breaker, attempt timeout) with a hedge inside it:
// a request still unanswered after 50 ms gets a second one, and the first answer wins.
const resilientFetch = createFetch({
  policy: compose(presets.http({ totalTimeout: 1_500, attemptTimeout: 500 }), hedge({ delayMs: 50 })),
});

const answers: string[] = [];
for (let i = 0; i < 4; i++) {
  // The deadline travels: each attempt tells the server how long it has left.
  const response = await resilientFetch(server.url, { breakwater: { deadline: Date.now() + 1_000 } });
  answers.push((await response.text()).replace(/\d+ ms left/, 'the deadline sent'));
}
console.log(answers.join('\n')); // request 2 stalled: its hedge, request 3, answered
server.close();
