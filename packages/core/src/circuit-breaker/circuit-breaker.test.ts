import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitOpenError, isRejectedError } from '../errors/errors.js';
import { backoff } from '../retry/backoff.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { breakers } from './breakers.js';
import { circuitBreaker } from './circuit-breaker.js';

const ok = () => 'ok';
const fail = () => {
  throw new Error('down');
};

async function failTimes(policy: { execute(fn: () => unknown): Promise<unknown> }, n: number) {
  for (let i = 0; i < n; i++) await policy.execute(fail).catch(() => {});
}

describe('circuitBreaker options', () => {
  it('rejects bad options, naming them', () => {
    expect(() => circuitBreaker({ breaker: {} as never })).toThrow(
      /circuitBreaker: option "breaker" must be a breaker/,
    );
    expect(() => circuitBreaker({ halfOpenAfterMs: -5 })).toThrow(
      new RangeError('circuitBreaker: option "halfOpenAfterMs" must be a finite number >= 0, got -5'),
    );
    expect(() => circuitBreaker({ halfOpenMaxCalls: 0 })).toThrow(
      /"halfOpenMaxCalls" must be an integer >= 1, got 0/,
    );
    expect(() => breakers.consecutive(0)).toThrow(/breakers.consecutive: option "threshold"/);
    expect(() => breakers.count({ failureRate: 50 })).toThrow(
      /"failureRate" must be a fraction in \(0, 1\], got 50/,
    );
    expect(() => breakers.count({ size: 10, minCalls: 20 })).toThrow(/"minCalls" must be <= size \(10\)/);
  });
});

describe('circuitBreaker', () => {
  it('opens after n consecutive failures and rejects with CircuitOpenError carrying retryAfterMs', async () => {
    const clock = createFakeClock();
    const policy = circuitBreaker({ breaker: breakers.consecutive(3), halfOpenAfterMs: 1_000, clock });
    await failTimes(policy, 2);
    await policy.execute(ok); // a success resets the count
    await failTimes(policy, 2);
    expect(policy.state).toBe('closed');
    await failTimes(policy, 1);
    expect(policy.state).toBe('open');
    await clock.advance(400);
    let called = false;
    const error = await policy
      .execute(() => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(isRejectedError(error)).toBe(true);
    expect((error as CircuitOpenError).code).toBe('BW_CIRCUIT_OPEN');
    expect((error as CircuitOpenError).retryAfterMs).toBe(600);
  });

  it('opens on the failure rate over the count window once minCalls is reached', async () => {
    const policy = circuitBreaker({ breaker: breakers.count({ size: 10, failureRate: 0.5, minCalls: 6 }) });
    for (let i = 0; i < 4; i++) await policy.execute(ok);
    await failTimes(policy, 3); // 3 of 7
    expect(policy.state).toBe('closed');
    await failTimes(policy, 1); // 4 of 8
    expect(policy.state).toBe('open');
  });

  it('forgets calls that slid out of the count window', async () => {
    const policy = circuitBreaker({ breaker: breakers.count({ size: 4, failureRate: 0.75, minCalls: 4 }) });
    await failTimes(policy, 2);
    for (let i = 0; i < 4; i++) await policy.execute(ok); // the failures leave the window
    await failTimes(policy, 2);
    expect(policy.state).toBe('closed'); // 2 of 4
    await failTimes(policy, 1);
    expect(policy.state).toBe('open'); // 3 of 4
  });

  it('half-opens after halfOpenAfterMs, closes on a successful trial and reopens on a failed one', async () => {
    const clock = createFakeClock();
    const policy = circuitBreaker({ breaker: breakers.consecutive(1), halfOpenAfterMs: 100, clock });
    const changes: string[] = [];
    policy.onStateChange((e) => changes.push(`${e.from}->${e.to}`));
    await failTimes(policy, 1);
    await clock.advance(100);
    expect(policy.state).toBe('half-open');
    await failTimes(policy, 1);
    expect(policy.state).toBe('open');
    await clock.advance(100);
    await expect(policy.execute(ok)).resolves.toBe('ok');
    expect(policy.state).toBe('closed');
    expect(changes).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  it('takes halfOpenAfterMs from a backoff over consecutive openings', async () => {
    const clock = createFakeClock();
    const policy = circuitBreaker({
      breaker: breakers.consecutive(1),
      halfOpenAfterMs: backoff.exponential({ initialMs: 100, maxMs: 1_000, jitter: 'none' }),
      clock,
    });
    const waits: Array<number | undefined> = [];
    const probe = async () =>
      waits.push(((await policy.execute(ok).catch((e) => e)) as CircuitOpenError).retryAfterMs);
    await failTimes(policy, 1);
    await probe(); // 100
    await clock.advance(100);
    await failTimes(policy, 1); // failed trial: second opening
    await probe(); // 200
    await clock.advance(200);
    await failTimes(policy, 1);
    await probe(); // 400
    expect(waits).toEqual([100, 200, 400]);
  });

  it('lets at most halfOpenMaxCalls trials through at once', async () => {
    const clock = createFakeClock();
    const policy = circuitBreaker({
      breaker: breakers.consecutive(1),
      halfOpenAfterMs: 10,
      halfOpenMaxCalls: 2,
      clock,
    });
    await failTimes(policy, 1);
    await clock.advance(10);
    const releases: Array<() => void> = [];
    let started = 0;
    const trial = () =>
      policy.execute(
        () =>
          new Promise<string>((resolve) => {
            started++;
            releases.push(() => resolve('done'));
          }),
      );
    const results = [trial(), trial(), trial().catch((e: unknown) => e), trial().catch((e: unknown) => e)];
    expect(started).toBe(2);
    for (const release of releases) release();
    const settled = await Promise.all(results);
    expect(settled.slice(0, 2)).toEqual(['done', 'done']);
    expect(settled[2]).toBeInstanceOf(CircuitOpenError);
    expect(settled[3]).toBeInstanceOf(CircuitOpenError);
    expect(policy.state).toBe('closed');
  });

  it('ignores late results from an earlier state', async () => {
    const clock = createFakeClock();
    const policy = circuitBreaker({ breaker: breakers.consecutive(1), halfOpenAfterMs: 10, clock });
    let failSlow!: () => void;
    const slow = policy
      .execute(() => new Promise((_, reject) => (failSlow = () => reject(new Error('late')))))
      .catch(() => {});
    await failTimes(policy, 1); // opens
    await clock.advance(10);
    await policy.execute(ok); // trial succeeds: closed again
    failSlow(); // a failure from the first closed period
    await slow;
    expect(policy.state).toBe('closed');
  });

  it('does not count the caller abort as a failure', async () => {
    const policy = circuitBreaker({ breaker: breakers.consecutive(1) });
    const controller = new AbortController();
    const pending = policy.execute(
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      { signal: controller.signal },
    );
    controller.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    await new Promise((resolve) => setImmediate(resolve));
    expect(policy.state).toBe('closed');
  });

  it('counts values as failures when isFailure says so', async () => {
    const policy = circuitBreaker({
      breaker: breakers.consecutive(2),
      isFailure: (o) => 'value' in o && (o.value as { status: number }).status >= 500,
    });
    await policy.execute(() => ({ status: 503 }));
    await policy.execute(() => ({ status: 502 }));
    expect(policy.state).toBe('open');
  });

  it('isolate() holds the circuit open until every handle is disposed; reset() closes it', async () => {
    const policy = circuitBreaker();
    const a = policy.isolate();
    const b = policy.isolate();
    expect(policy.state).toBe('isolated');
    const error = (await policy.execute(ok).catch((e: unknown) => e)) as CircuitOpenError;
    expect(error.isolated).toBe(true);
    a.dispose();
    expect(policy.state).toBe('isolated');
    b[Symbol.dispose]();
    expect(policy.state).toBe('closed');
    policy.isolate();
    policy.reset();
    await expect(policy.execute(ok)).resolves.toBe('ok');
  });

  it('emits onReject', async () => {
    const policy = circuitBreaker({ breaker: breakers.consecutive(1), name: 'payments' });
    const rejects: string[] = [];
    policy.onReject((e) => rejects.push(`${e.name}:${e.state}`));
    await failTimes(policy, 2);
    expect(rejects).toEqual(['payments:open']);
  });
});

describe('circuitBreaker state machine (property)', () => {
  type Step = { kind: 'ok' } | { kind: 'fail' } | { kind: 'wait'; ms: number };
  const step = fc.oneof(
    fc.constant<Step>({ kind: 'ok' }),
    fc.constant<Step>({ kind: 'fail' }),
    fc.integer({ min: 1, max: 300 }).map<Step>((ms) => ({ kind: 'wait', ms })),
  );

  it('matches a reference model of consecutive(3) with halfOpenAfterMs 100', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const clock = createFakeClock();
        const policy = circuitBreaker({ breaker: breakers.consecutive(3), halfOpenAfterMs: 100, clock });
        // Reference model, written from the contract rather than from the implementation.
        let state: 'closed' | 'open' | 'half-open' = 'closed';
        let failures = 0;
        let openedAt = 0;
        for (const s of steps) {
          if (s.kind === 'wait') {
            await clock.advance(s.ms);
            continue;
          }
          if (state === 'open' && clock.now() - openedAt >= 100) state = 'half-open';
          const rejectedByModel = state === 'open';
          const outcome = await policy.execute(s.kind === 'ok' ? ok : fail).then(
            () => 'ok',
            (e: unknown) => (e instanceof CircuitOpenError ? 'rejected' : 'failed'),
          );
          if (rejectedByModel) {
            if (outcome !== 'rejected') return false;
            continue;
          }
          if (outcome !== (s.kind === 'ok' ? 'ok' : 'failed')) return false;
          if (s.kind === 'ok') {
            failures = 0;
            state = 'closed';
          } else if (state === 'half-open' || ++failures >= 3) {
            state = 'open';
            openedAt = clock.now();
            failures = 0;
          }
          if (policy.state !== state) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });
});

describe('circuitBreaker hardening', () => {
  it('keeps isolate() working after reset(): a handle from before the reset is inert', async () => {
    const cb = circuitBreaker();
    const h1 = cb.isolate();
    cb.reset();
    h1.dispose(); // must not push the owner count below zero
    const h2 = cb.isolate();
    expect(cb.state).toBe('isolated');
    h2.dispose();
    expect(cb.state).toBe('closed');
    await expect(cb.execute(() => 'through')).resolves.toBe('through');
  });

  it.each([
    [25, 0.28, 7],
    [100, 0.55, 55],
    [50, 0.14, 7],
    [100, 0.07, 7],
    [75, 0.68, 51],
  ])(
    'opens the count breaker at exactly failureRate (size %i, rate %d)',
    async (size, failureRate, failures) => {
      const cb = circuitBreaker({ breaker: breakers.count({ size, failureRate, minCalls: size }) });
      for (let i = 0; i < size - failures; i++) await cb.execute(() => 'ok');
      for (let i = 0; i < failures; i++)
        await cb.execute(() => Promise.reject(new Error('x'))).catch(() => {});
      expect(cb.state).toBe('open');
    },
  );

  it('decides the count breaker rate exactly, as integer arithmetic does (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 100 }),
        fc.nat(),
        (size, percent, seed) => {
          const failures = seed % (size + 1);
          const window = breakers.count({ size, failureRate: percent / 100, minCalls: size }).create();
          for (let i = 0; i < size - failures; i++) window.record(false, 0, 0);
          let opened = false;
          for (let i = 0; i < failures; i++) opened = window.record(true, 0, 0) !== undefined;
          // failures / size >= percent / 100, without floating point.
          const expected = failures > 0 && failures * 100 >= percent * size;
          return opened === expected;
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('frees the half-open trial slot when isFailure throws, and hands its error to the caller', async () => {
    const clock = createFakeClock();
    const bug = new Error('predicate bug');
    let throwing = true;
    const cb = circuitBreaker({
      breaker: breakers.consecutive(1),
      halfOpenAfterMs: 100,
      clock,
      isFailure: (outcome) => {
        if ('value' in outcome && throwing) throw bug;
        return 'error' in outcome;
      },
    });
    await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await clock.advance(100);
    expect(cb.state).toBe('half-open');
    await expect(cb.execute(() => 'trial')).rejects.toBe(bug);
    throwing = false;
    // The slot is free again: the next trial runs (and closes the circuit).
    await expect(cb.execute(() => 'trial 2')).resolves.toBe('trial 2');
    expect(cb.state).toBe('closed');
  });

  it('refuses a halfOpenAfterMs object that is not a backoff, naming it', () => {
    expect(() => circuitBreaker({ halfOpenAfterMs: { delayMs: 5 } as never })).toThrow(
      /circuitBreaker: option "halfOpenAfterMs" must be a number of ms or a backoff/,
    );
    expect(() => circuitBreaker({ halfOpenMaxCalls: null as never })).toThrow(/"halfOpenMaxCalls"/);
  });

  it('ignores a value that arrives after the caller aborted', async () => {
    const cb = circuitBreaker({ breaker: breakers.consecutive(1), isFailure: () => true });
    const controller = new AbortController();
    const call = cb.execute(
      async () => {
        controller.abort();
        return 'late';
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toBe(controller.signal.reason);
    await new Promise((resolve) => setImmediate(resolve));
    expect(cb.state).toBe('closed');
  });
});

describe('state events with their cause', () => {
  it('say which failure opened the circuit, and why each transition happened', async () => {
    const clock = createFakeClock();
    const cb = circuitBreaker({ breaker: breakers.consecutive(2), halfOpenAfterMs: 100, clock });
    const events: Array<[string, string, string, unknown]> = [];
    cb.onStateChange((e) => events.push([e.from, e.to, e.reason, e.error]));
    const opened: unknown[] = [];
    const closed: string[] = [];
    const halfOpened: string[] = [];
    cb.onBreak((e) => opened.push(e.error));
    cb.onReset((e) => closed.push(e.reason));
    cb.onHalfOpen((e) => halfOpened.push(e.reason));
    const second = new Error('second');
    await cb.execute(() => Promise.reject(new Error('first'))).catch(() => {});
    await cb.execute(() => Promise.reject(second)).catch(() => {});
    await clock.advance(100);
    const trialError = new Error('trial');
    await cb.execute(() => Promise.reject(trialError)).catch(() => {});
    await clock.advance(100);
    await cb.execute(() => 'ok');
    const handle = cb.isolate();
    handle.dispose();
    expect(events).toEqual([
      ['closed', 'open', 'failures', second],
      ['open', 'half-open', 'elapsed', undefined],
      ['half-open', 'open', 'trial-failed', trialError],
      ['open', 'half-open', 'elapsed', undefined],
      ['half-open', 'closed', 'trial-succeeded', undefined],
      ['closed', 'isolated', 'isolated', undefined],
      ['isolated', 'closed', 'released', undefined],
    ]);
    expect(opened).toEqual([second, trialError]);
    expect(closed).toEqual(['trial-succeeded', 'released']);
    expect(halfOpened).toEqual(['elapsed', 'elapsed']);
  });

  it('opens on slow calls measured on the clock, naming the slow value', async () => {
    const clock = createFakeClock();
    const cb = circuitBreaker({
      breaker: breakers.time({ windowMs: 10_000, minCalls: 2, slowCallMs: 500, slowCallRate: 1 }),
      clock,
    });
    const reasons: unknown[] = [];
    cb.onBreak((e) => reasons.push([e.reason, e.value]));
    const slow = (value: string) =>
      cb.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve(value), 600)));
    const a = slow('a');
    await clock.advance(600);
    await a;
    expect(cb.state).toBe('closed');
    const b = slow('b');
    await clock.advance(600);
    await expect(b).resolves.toBe('b'); // a slow call still returns its value
    expect(cb.state).toBe('open');
    expect(reasons).toEqual([['slow-calls', 'b']]);
  });
});

describe('toJSON and initialState', () => {
  it('round-trips an open circuit into a new breaker', async () => {
    const clock = createFakeClock({ now: 1_000 });
    const cb = circuitBreaker({ name: 'api', breaker: breakers.consecutive(1), halfOpenAfterMs: 500, clock });
    await failTimes(cb, 1);
    const snapshot = JSON.parse(JSON.stringify(cb.toJSON()));
    expect(snapshot).toEqual({
      format: 'breakwater.circuit-breaker',
      version: 1,
      name: 'api',
      state: 'open',
      openUntil: 1_500,
      openings: 1,
      lastOpenMs: 500,
    });
    const restored = circuitBreaker({ name: 'api', halfOpenAfterMs: 500, clock, initialState: snapshot });
    expect(restored.state).toBe('open');
    await expect(restored.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    await clock.advance(500);
    expect(restored.state).toBe('half-open');
    await restored.execute(ok);
    expect(restored.state).toBe('closed');
  });

  it('refuses a snapshot of another version, another breaker or a malformed one, whole', () => {
    const good = circuitBreaker({ name: 'api' }).toJSON();
    const make = (initialState: unknown) => () =>
      circuitBreaker({ name: 'api', initialState: initialState as never });
    expect(make({ ...good, version: 2 })).toThrow(
      /circuitBreaker "api": option "initialState" is refused: snapshot version 2 is not supported/,
    );
    expect(make({ ...good, name: 'other' })).toThrow(/it is the snapshot of breaker "other"/);
    expect(make({ ...good, state: 'ajar' })).toThrow(/state must be one of/);
    expect(make({ ...good, openUntil: 'soon' })).toThrow(/openUntil must be a finite number/);
    expect(make({ ...good, format: undefined })).toThrow(/format must be/);
    expect(make(null)).toThrow(/expected a snapshot/);
    expect(make(good)).not.toThrow();
  });

  it('restores isolation until reset', async () => {
    const snapshot = { ...circuitBreaker({ name: 'x' }).toJSON(), state: 'isolated' as const };
    const cb = circuitBreaker({ name: 'x', initialState: snapshot });
    await expect(cb.execute(ok)).rejects.toMatchObject({ isolated: true });
    cb.reset();
    await expect(cb.execute(ok)).resolves.toBe('ok');
  });
});
