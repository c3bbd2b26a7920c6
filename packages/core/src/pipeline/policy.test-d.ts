import { describe, expectTypeOf, it } from 'vitest';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { retry } from '../retry/retry.js';
import { compose } from './compose.js';
import type { PolicyContext } from './context.js';

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
});
