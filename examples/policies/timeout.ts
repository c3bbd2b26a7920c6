import { isBreakwaterError, timeout } from '@breakwater/core';

const twoSeconds = timeout(2_000); // cooperative: aborts ctx.signal, then waits for fn to settle
const hardLimit = timeout(500, { mode: 'aggressive' }); // rejects at once; fn is left to finish alone

try {
  await twoSeconds.execute(({ signal }) => fetch('http://127.0.0.1:9/slow', { signal }));
} catch (error) {
  if (isBreakwaterError(error) && error.code === 'BW_TIMEOUT') console.log('gave up after 2 s');
  else console.log('failed:', (error as Error).message);
}
console.log(await hardLimit.execute(() => 'fast enough'));
