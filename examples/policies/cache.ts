import { cache, memoryCacheStore } from '@breakwater/core';

// Fresh for 1 s, then served stale for up to 10 s while one background load refreshes it.
const users = cache({
  store: memoryCacheStore({ max: 1_000 }),
  ttlMs: 1_000,
  staleWhileRevalidateMs: 10_000,
});

let loads = 0;
const getUser = (id: string) =>
  users.execute(
    async (ctx) => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 20)); // the origin
      ctx.cache!.tags = [`user:${id}`]; // the loader tags its entry
      return { id, name: `user ${id}`, load: loads };
    },
    { key: `user:${id}` },
  );

// 100 concurrent readers of a cold key: one load between them.
const first = await Promise.all(Array.from({ length: 100 }, () => getUser('42')));
console.log(`100 readers, ${loads} load, load #${first[0]!.load}`);

await users.invalidateTag('user:42');
console.log(`after invalidateTag: load #${(await getUser('42')).load}`);
