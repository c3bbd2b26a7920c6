import { describe, expect, it } from 'vitest';
import { fallback } from './fallback.js';

describe('fallback', () => {
  it('replaces an error with a value', async () => {
    await expect(fallback('cached').execute(() => Promise.reject(new Error('x')))).resolves.toBe('cached');
  });

  it('calls a function with the outcome and the context', async () => {
    const policy = fallback(
      (outcome, ctx) => `${'error' in outcome ? (outcome.error as Error).message : ''}@${ctx.attempt}`,
    );
    await expect(policy.execute(() => Promise.reject(new Error('down')))).resolves.toBe('down@1');
  });

  it('leaves successes and unselected errors alone', async () => {
    const policy = fallback('x', { on: (o) => 'error' in o && (o.error as Error).message === 'handled' });
    await expect(policy.execute(() => 'fine')).resolves.toBe('fine');
    await expect(policy.execute(() => Promise.reject(new Error('other')))).rejects.toThrow('other');
    await expect(policy.execute(() => Promise.reject(new Error('handled')))).resolves.toBe('x');
  });

  it('replaces values that `on` selects', async () => {
    const policy = fallback(async () => ({ status: 200, body: 'default' }), {
      on: (o) => 'value' in o && (o.value as { status: number }).status >= 500,
    });
    await expect(policy.execute(() => ({ status: 503, body: '' }))).resolves.toEqual({
      status: 200,
      body: 'default',
    });
  });

  it('does not replace the caller abort', async () => {
    const controller = new AbortController();
    controller.abort('mine');
    await expect(fallback('x').execute(() => 1, { signal: controller.signal })).rejects.toBe('mine');
  });

  it('emits onFallback and validates options', async () => {
    const policy = fallback(0, { name: 'zero' });
    const seen: string[] = [];
    policy.onFallback((e) => seen.push(`${e.name}:${(e.error as Error).message}`));
    await policy.execute(() => Promise.reject(new Error('x')));
    expect(seen).toEqual(['zero:x']);
    expect(() => fallback(0, { on: 'x' as never })).toThrow(/fallback: option "on" must be a function/);
  });
});

describe('fallback hardening', () => {
  it('refuses to be made without a replacement', () => {
    expect(() => (fallback as (...args: unknown[]) => unknown)()).toThrow(
      /fallback: the replacement value is required/,
    );
    // An explicit undefined is a value.
    expect(() => fallback(undefined)).not.toThrow();
  });

  it('does not replace a value selected by `on` once the caller aborted', async () => {
    const controller = new AbortController();
    const policy = fallback('replacement', { on: () => true });
    const call = policy.execute(
      async () => {
        controller.abort(new Error('left'));
        return 'late value';
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toThrow('left');
  });
});
