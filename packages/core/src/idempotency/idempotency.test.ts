import { describe, expect, it } from 'vitest';
import {
  IdempotencyConflictError,
  IdempotencyMismatchError,
  StoreUnavailableError,
} from '../errors/errors.js';
import { type IdempotencyStore, memoryIdempotencyStore } from '../stores/idempotency-store.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { idempotency } from './idempotency.js';

const setup = (extra: Partial<Parameters<typeof idempotency>[0]> = {}) => {
  const clock = createFakeClock({ now: 1_000 });
  const store = memoryIdempotencyStore({ clock });
  const policy = idempotency({ store, clock, ...extra });
  return { clock, store, policy };
};

const slow =
  (clock: ReturnType<typeof createFakeClock>, ms: number, value: unknown, counter: { n: number }) => () =>
    new Promise((resolve) => {
      counter.n++;
      clock.setTimeout(() => resolve(value), ms);
    });

describe('idempotency', () => {
  it('runs once per key and replays the result to duplicates', async () => {
    const { policy } = setup();
    const replays: boolean[] = [];
    policy.onReplay(({ failed }) => replays.push(failed));
    let n = 0;
    const charge = async () => ({ charged: ++n });
    const opts = { idempotencyKey: 'order-1', fingerprint: 'POST /charge #abc' };
    expect(await policy.execute(charge, opts)).toEqual({ charged: 1 });
    expect(await policy.execute(charge, opts)).toEqual({ charged: 1 });
    expect(await policy.execute(charge, { idempotencyKey: 'order-2', fingerprint: 'x' })).toEqual({
      charged: 2,
    });
    expect(replays).toEqual([false]);
    expect(await policy.execute(charge)).toEqual({ charged: 3 }); // no key: runs as is
  });

  it('refuses a duplicate in flight, or lets it wait (woken, not polling) for the result', async () => {
    const { clock, policy } = setup({ wait: { maxMs: 5_000 } });
    const counter = { n: 0 };
    const opts = { idempotencyKey: 'k' };
    const first = policy.execute(slow(clock, 300, 'done', counter), opts);
    await clock.advance(0);
    const waiting = policy.execute(slow(clock, 300, 'again', counter), opts);
    await clock.advance(300);
    expect(await first).toBe('done');
    expect(await waiting).toBe('done');
    expect(counter.n).toBe(1);

    const noWait = setup();
    const conflicts: string[] = [];
    noWait.policy.onConflict(({ idempotencyKey }) => conflicts.push(idempotencyKey));
    const held = noWait.policy.execute(slow(noWait.clock, 300, 'v', counter), opts);
    await noWait.clock.advance(0);
    const refused = await noWait.policy.execute(async () => 'x', opts).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IdempotencyConflictError);
    expect((refused as IdempotencyConflictError).retryAfterMs).toBeGreaterThan(0);
    expect(conflicts).toEqual(['k']);
    await noWait.clock.advance(300);
    expect(await held).toBe('v');
  });

  it('refuses a key reused with another fingerprint, in flight or done', async () => {
    const { policy } = setup();
    await policy.execute(async () => 1, { idempotencyKey: 'k', fingerprint: 'a' });
    const error = await policy
      .execute(async () => 2, { idempotencyKey: 'k', fingerprint: 'b' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdempotencyMismatchError);
    expect((error as IdempotencyMismatchError).retryable).toBe(false);
  });

  it("frees the key on failure with saveOn 'success', and replays the failure with 'started'", async () => {
    const boom = async () => {
      throw new Error('boom');
    };
    const success = setup();
    await expect(success.policy.execute(boom, { idempotencyKey: 'k' })).rejects.toThrow('boom');
    expect(await success.policy.execute(async () => 'retried', { idempotencyKey: 'k' })).toBe('retried');
    const started = setup({ saveOn: 'started' });
    await expect(started.policy.execute(boom, { idempotencyKey: 'k' })).rejects.toThrow('boom');
    let ran = false;
    await expect(
      started.policy.execute(
        async () => {
          ran = true;
        },
        { idempotencyKey: 'k' },
      ),
    ).rejects.toThrow('boom');
    expect(ran).toBe(false);
  });

  it('keeps nothing when the caller gave up, even with saveOn started', async () => {
    const { clock, policy } = setup({ saveOn: 'started' });
    const caller = new AbortController();
    const call = policy.execute(
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      { idempotencyKey: 'k', signal: caller.signal },
    );
    await clock.advance(0);
    caller.abort(new Error('left'));
    await expect(call).rejects.toThrow('left');
    await clock.advance(0);
    expect(await policy.execute(async () => 'second try', { idempotencyKey: 'k' })).toBe('second try');
  });

  it("extends the holder's lease while it runs, so a long call is never taken over", async () => {
    const { clock, policy } = setup({ leaseMs: 300 });
    const counter = { n: 0 };
    const long = policy.execute(slow(clock, 1_000, 'long', counter), { idempotencyKey: 'k' });
    await clock.advance(900);
    await expect(policy.execute(async () => 'dup', { idempotencyKey: 'k' })).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
    await clock.advance(100);
    expect(await long).toBe('long');
    expect(counter.n).toBe(1);
  });

  it("takes over a crashed holder's key when its lease lapses, waking a waiting duplicate", async () => {
    const { clock, store, policy } = setup({ leaseMs: 500, wait: { maxMs: 10_000 } });
    // A holder that claimed the key and died: nothing will ever extend or complete it.
    await store.begin('k', { fingerprint: '', leaseMs: 500 });
    let ranAt = -1;
    const call = policy.execute(
      async () => {
        ranAt = clock.now();
        return 'took over';
      },
      { idempotencyKey: 'k' },
    );
    await clock.advance(500);
    expect(await call).toBe('took over');
    expect(ranAt).toBe(1_500);
  });

  it('says when the holder lost its claim, and stores nothing under the new owner', async () => {
    const clock = createFakeClock();
    const inner = memoryIdempotencyStore({ clock });
    const store: IdempotencyStore = { ...inner, extend: async () => false };
    const policy = idempotency({ store, leaseMs: 300, clock });
    const lost: string[] = [];
    policy.onLeaseLost(({ during }) => lost.push(during));
    const call = policy.execute(slow(clock, 400, 'v', { n: 0 }), { idempotencyKey: 'k' });
    await clock.advance(400);
    expect(await call).toBe('v');
    expect(lost).toEqual(['extend']);
  });

  it('fails closed when the store cannot be reached: fn is not run', async () => {
    const clock = createFakeClock();
    const down = memoryIdempotencyStore({ clock });
    down.begin = async () => {
      throw new Error('ECONNREFUSED');
    };
    const policy = idempotency({ store: down, clock });
    let ran = false;
    const error = await policy
      .execute(
        async () => {
          ran = true;
        },
        { idempotencyKey: 'k' },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('BW_STORE_UNAVAILABLE');
    expect(ran).toBe(false);
  });

  it('runs 1,000 concurrent duplicates exactly once', async () => {
    const { clock, policy } = setup({ wait: { maxMs: 1_000 } });
    const counter = { n: 0 };
    const calls = Array.from({ length: 1_000 }, () =>
      policy.execute(slow(clock, 50, 'once', counter), { idempotencyKey: 'k' }),
    );
    await clock.advance(50);
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['once']));
    expect(counter.n).toBe(1);
  });

  it('refuses bad keys and validates its options, naming the option', async () => {
    const { policy } = setup({ maxKeyBytes: 8 });
    await expect(policy.execute(async () => 1, { idempotencyKey: '' })).rejects.toThrow(/must not be empty/);
    await expect(policy.execute(async () => 1, { idempotencyKey: 'x'.repeat(9) })).rejects.toThrow(
      /at most 8 bytes/,
    );
    const store = memoryIdempotencyStore();
    expect(() => idempotency({ store: {} as never })).toThrow(/idempotency: option "store"/);
    expect(() => idempotency({ store, leaseMs: 0 })).toThrow(/"leaseMs"/);
    expect(() => idempotency({ store, saveOn: 'always' as never })).toThrow(
      /"saveOn" must be one of 'success', 'started'/,
    );
    expect(() => idempotency({ store, wait: { max: 1 } as never })).toThrow(/max/);
  });
});
