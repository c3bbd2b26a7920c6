import type { CircuitSnapshot } from './options.js';

const STATES = ['closed', 'open', 'half-open', 'isolated'];

function refuse(name: string, problem: string): TypeError {
  return new TypeError(`circuitBreaker "${name}": option "initialState" is refused: ${problem}`);
}

/**
 * Checks a snapshot before anything of it is applied: a snapshot of another format version, of
 * another breaker, or with a field out of shape is refused whole, never half-applied.
 */
export function readSnapshot(name: string, value: unknown): CircuitSnapshot {
  if (typeof value !== 'object' || value === null) throw refuse(name, 'expected a snapshot from toJSON()');
  const s = value as Record<string, unknown>;
  if (s.format !== 'breakwater.circuit-breaker') {
    throw refuse(name, `format must be "breakwater.circuit-breaker", got ${JSON.stringify(s.format)}`);
  }
  if (s.version !== 1) {
    throw refuse(
      name,
      `snapshot version ${JSON.stringify(s.version)} is not supported (this release reads 1)`,
    );
  }
  if (s.name !== name) {
    throw refuse(name, `it is the snapshot of breaker ${JSON.stringify(s.name)}`);
  }
  if (typeof s.state !== 'string' || !STATES.includes(s.state)) {
    throw refuse(name, `state must be one of ${STATES.join(', ')}, got ${JSON.stringify(s.state)}`);
  }
  if (typeof s.openUntil !== 'number' || !Number.isFinite(s.openUntil)) {
    throw refuse(name, 'openUntil must be a finite number');
  }
  if (!Number.isInteger(s.openings) || (s.openings as number) < 0) {
    throw refuse(name, 'openings must be an integer >= 0');
  }
  if (s.lastOpenMs !== null && !(typeof s.lastOpenMs === 'number' && s.lastOpenMs >= 0)) {
    throw refuse(name, 'lastOpenMs must be null or a number >= 0');
  }
  return s as unknown as CircuitSnapshot;
}
