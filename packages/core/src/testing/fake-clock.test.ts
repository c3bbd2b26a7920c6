import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';

describe('createFakeClock', () => {
  it('runs due timers in order and lets promises settle between them', async () => {
    const clock = createFakeClock({ now: 1_000 });
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      log.push(`a@${clock.now()}`);
      void Promise.resolve().then(() => clock.setTimeout(() => log.push(`c@${clock.now()}`), 5));
    }, 10);
    await clock.advance(14);
    expect(log).toEqual(['a@1010']);
    expect(clock.now()).toBe(1_014);
    await clock.advance(1);
    expect(log).toEqual(['a@1010', 'c@1015']);
    await clock.advance(10);
    expect(log).toEqual(['a@1010', 'c@1015', 'b@1020']);
    expect(clock.now()).toBe(1_025);
  });

  it('clears timers and runs all that are left', async () => {
    const clock = createFakeClock();
    const log: number[] = [];
    const handle = clock.setTimeout(() => log.push(1), 5);
    clock.setTimeout(() => log.push(2), 50);
    clock.clearTimeout(handle);
    expect(clock.pending).toBe(1);
    await clock.runAll();
    expect(log).toEqual([2]);
    expect(clock.now()).toBe(50);
  });

  it('stops runAll on a timer that keeps re-arming', async () => {
    const clock = createFakeClock({ maxTimers: 10 });
    const rearm = () => clock.setTimeout(rearm, 1);
    rearm();
    await expect(clock.runAll()).rejects.toThrow(/runAll stopped after 10 timers/);
  });

  it('rejects a negative advance', async () => {
    await expect(createFakeClock().advance(-1)).rejects.toThrow(RangeError);
  });
});

describe('fake clock delays', () => {
  it('never runs a timer set for Infinity, and runs a NaN one at once', async () => {
    const clock = createFakeClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('never'), Number.POSITIVE_INFINITY);
    clock.setTimeout(() => ran.push('nan'), Number.NaN);
    await clock.runAll();
    await clock.advance(2 ** 40);
    expect(ran).toEqual(['nan']);
    expect(clock.pending).toBe(1);
  });
});
