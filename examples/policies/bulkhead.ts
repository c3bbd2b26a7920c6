import { BulkheadFullError, bulkhead } from '@breakwater/core';

const pool = bulkhead({ maxConcurrent: 2, maxQueue: 1, queueTimeoutMs: 1_000 });
const work = (ms: number) => new Promise<string>((resolve) => setTimeout(() => resolve(`slept ${ms}`), ms));

const results = await Promise.allSettled([10, 20, 30, 40].map((ms) => pool.execute(() => work(ms))));
for (const r of results) {
  console.log(
    r.status === 'fulfilled' ? r.value : r.reason instanceof BulkheadFullError ? 'rejected: full' : r.reason,
  );
}
