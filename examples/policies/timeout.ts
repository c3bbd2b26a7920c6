import { isBreakwaterError, timeout } from '@breakwater/core';
import { localServer } from '../local-server.js';

const server = await localServer((_req, res) => setTimeout(() => res.end('late'), 5_000)); // stalls 5 s

const patient = timeout(300); // cooperative: aborts ctx.signal, then waits for fn to settle
const started = Date.now();
try {
  await patient.execute(({ signal }) => fetch(server.url, { signal })); // the signal cancels the request
} catch (error) {
  if (isBreakwaterError(error) && error.code === 'BW_TIMEOUT') {
    console.log(`gave up after ${Date.now() - started} ms: ${error.message}`);
  }
}

const hardLimit = timeout(100, { mode: 'aggressive' }); // rejects at once; fn is left to finish alone
const slowComputation = new Promise<string>((resolve) => setTimeout(() => resolve('done'), 1_000));
console.log(await hardLimit.execute(() => slowComputation).catch((error: Error) => error.message));
console.log(await hardLimit.execute(() => 'fast enough'));
server.close();
