import { describe, expectTypeOf, it } from 'vitest';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { fallback } from '../fallback/fallback.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { compose } from './compose.js';
import type { PolicyContext } from './context.js';
import { createPolicy } from './create-policy.js';
import type { Policy } from './policy.js';

describe('public types', () => {
  it('wrap keeps the parameters and drops a trailing context', () => {
    const policy = compose(retry());
    const plain = policy.wrap((id: string, n: number) => ({ id, n }));
    expectTypeOf(plain).toEqualTypeOf<(id: string, n: number) => Promise<{ id: string; n: number }>>();
    const withCtx = policy.wrap(async (id: string, ctx: PolicyContext) => `${id}@${ctx.attempt}`);
    expectTypeOf(withCtx).toEqualTypeOf<(id: string) => Promise<string>>();
  });

  it('execute resolves to the awaited result of fn', () => {
    const policy = retry();
    expectTypeOf(policy.execute(() => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(policy.execute(async () => 'x')).toEqualTypeOf<Promise<string>>();
  });

  it('outcome predicates tell errors from values with `in`', () => {
    retry({
      retryOn: (outcome) => {
        if ('error' in outcome) {
          expectTypeOf(outcome.error).toBeUnknown();
          return true;
        }
        expectTypeOf(outcome.value).toBeUnknown();
        return false;
      },
    });
  });

  it('breaker state is the documented union', () => {
    expectTypeOf(circuitBreaker().state).toEqualTypeOf<'closed' | 'open' | 'half-open' | 'isolated'>();
  });

  it('keeps a fallback value in the result type, through compose and wrap', () => {
    const policy = compose(fallback('none' as const), retry());
    expectTypeOf(policy.execute(async () => 1)).toEqualTypeOf<Promise<number | 'none'>>();
    expectTypeOf(policy.wrap((id: string) => id.length)).toEqualTypeOf<
      (id: string) => Promise<number | 'none'>
    >();
    const nested = compose(
      timeout(1_000),
      compose(
        fallback(() => null),
        retry(),
      ),
    );
    expectTypeOf(nested.execute(() => 'x')).toEqualTypeOf<Promise<string | null>>();
    expectTypeOf(fallback(async () => 0).execute(() => 'x')).toEqualTypeOf<Promise<string | number>>();
    // Without a fallback nothing is added.
    expectTypeOf(compose(retry(), timeout(10)).execute(() => 1)).toEqualTypeOf<Promise<number>>();
    // A policy that adds a value is still a policy where any policy is accepted.
    expectTypeOf(policy).toMatchTypeOf<Policy<unknown>>();
  });

  it('lets next take the context or per-call changes, and nothing else', () => {
    createPolicy({ name: 'ok', run: (ctx, next) => next({ ...ctx, key: 'k' }) });
    createPolicy({ name: 'ok2', run: (_ctx, next) => next({ priority: 'critical' }) });
    // @ts-expect-error: not a per-call field
    createPolicy({ name: 'bad', run: (_ctx, next) => next({ signal: 5 }) });
    // @ts-expect-error: priority must be one of the three
    createPolicy({ name: 'bad2', run: (_ctx, next) => next({ priority: 'urgent' }) });
  });
});
