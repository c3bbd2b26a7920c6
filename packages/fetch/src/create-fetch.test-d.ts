import { retry } from '@breakwater/core';
import { describe, expectTypeOf, it } from 'vitest';
import { createFetch } from './create-fetch.js';

describe('createFetch types', () => {
  it("returns a function usable wherever fetch's type is expected", () => {
    const resilient = createFetch({ policy: retry() });
    expectTypeOf(resilient).toExtend<typeof fetch>();
    expectTypeOf(resilient).parameter(1).toExtend<RequestInit | undefined>();
    expectTypeOf(resilient).returns.toEqualTypeOf<Promise<Response>>();
  });

  it('takes per-call pipeline options in init.breakwater', () => {
    const resilient = createFetch({ policy: retry() });
    expectTypeOf(resilient).toBeCallableWith('http://127.0.0.1/', {
      breakwater: { deadline: 1, idempotent: false },
    });
  });
});
