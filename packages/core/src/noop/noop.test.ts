import { describe, expect, it } from 'vitest';
import { compose } from '../pipeline/compose.js';
import { retry } from '../retry/retry.js';
import { noop } from './noop.js';

describe('noop', () => {
  it('passes values, errors and the context through unchanged', async () => {
    const boom = new Error('boom');
    await expect(noop().execute((ctx) => ctx.key, { key: 'k' })).resolves.toBe('k');
    await expect(noop().execute(() => Promise.reject(boom))).rejects.toBe(boom);
    await expect(compose(noop(), retry({ maxAttempts: 1 })).execute(() => 3)).resolves.toBe(3);
  });

  it('reports its calls and validates its options', async () => {
    const policy = noop({ name: 'off' });
    const seen: string[] = [];
    policy.onSuccess((e) => seen.push(e.name));
    await policy.execute(() => 1);
    expect(seen).toEqual(['off']);
    expect(policy.kind).toBe('noop');
    expect(() => noop({ nam: 'x' } as never)).toThrow(/noop: unknown option "nam"/);
  });
});
