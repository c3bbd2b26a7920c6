import { compose, createPolicy, timeout } from '@breakwater/core';

// A policy of your own: do something around next(ctx). To change a per-call field for the layers
// inside, hand next the context with the change; cancellation and deadlines stay the call's.
const tenantKeys = (tenant: string) =>
  createPolicy({
    name: 'tenant-keys',
    run: (ctx, next) => next({ ...ctx, key: `${tenant}:${ctx.key ?? 'none'}` }),
  });

const policy = compose(tenantKeys('acme'), timeout(1_000));
console.log(await policy.execute((ctx) => `key seen inside: ${ctx.key}`, { key: 'user-42' }));
