import { describe, expect, it } from 'vitest';
import {
  BreakwaterError,
  BulkheadFullError,
  CircuitOpenError,
  isBreakwaterError,
  isRejectedError,
  TimeoutError,
} from './errors.js';

describe('errors', () => {
  it('carry code, cause, retryAfterMs and a readable name', () => {
    const cause = new Error('root');
    const error = new CircuitOpenError(false, { cause, retryAfterMs: 250, policy: 'db' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('CircuitOpenError');
    expect(error.code).toBe('BW_CIRCUIT_OPEN');
    expect(error.cause).toBe(cause);
    expect(error.retryAfterMs).toBe(250);
    expect(error.policy).toBe('db');
    expect(new TimeoutError(100).message).toBe('Operation timed out after 100 ms');
  });

  it('are recognised by brand, also when made by another copy of the package', () => {
    const foreign = {
      [Symbol.for('breakwater.error')]: true,
      [Symbol.for('breakwater.rejected')]: true,
      code: 'BW_TIMEOUT',
    };
    expect(isBreakwaterError(foreign)).toBe(true);
    expect(isRejectedError(foreign)).toBe(true);
    expect(isBreakwaterError(new Error('plain'))).toBe(false);
    expect(isBreakwaterError(null)).toBe(false);
    expect(isRejectedError(new BreakwaterError('BW_X', 'not a rejection'))).toBe(false);
    expect(isRejectedError(new BulkheadFullError(1, 0, 'full'))).toBe(true);
  });
});
