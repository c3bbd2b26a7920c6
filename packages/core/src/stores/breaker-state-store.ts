import { type Clock, systemClock } from '../clock/clock.js';
import { checkOptions, clockOption } from '../errors/validate.js';

/**
 * The part of a circuit's state that instances sharing a store share: not its counts. Half-open is
 * not stored: it is an open record whose `openUntil` has passed.
 */
export interface BreakerRecord {
  readonly state: 'closed' | 'open' | 'isolated';
  /** Epoch ms from which an open circuit lets trial calls through. */
  readonly openUntil: number;
  /** Openings in a row (a backoff `halfOpenAfterMs` grows with it). */
  readonly openings: number;
  /** Grows with every transition of any instance; a record never replaces a newer one. */
  readonly version: number;
}

/**
 * Shared open/closed state for circuit breakers of one `name` across instances or processes.
 * Small and promise-based; `@breakwater/redis` has one on Redis.
 */
export interface BreakerStateStore {
  /** The stored record, or `undefined` when there is none yet. */
  get(name: string): Promise<BreakerRecord | undefined>;
  /** Stores a record; resolves `false` (storing nothing) when one with the same or a newer version is there. */
  set(name: string, record: BreakerRecord): Promise<boolean>;
  /** Calls `listener` with every record stored under `name` from now on; returns the unsubscribe. */
  subscribe(name: string, listener: (record: BreakerRecord) => void): () => void;
  /**
   * Claims the right to run half-open trials for `leaseMs`: resolves `true` for one `owner` at a time
   * cluster-wide (the same owner may claim again). A lease that is not released expires.
   */
  acquireTrial(name: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Gives a trial lease back; a lease held by another owner is left alone. */
  releaseTrial(name: string, owner: string): Promise<void>;
}

export interface MemoryBreakerStoreOptions {
  /** Time source for trial leases. @default the system clock */
  clock?: Clock;
}

/** A `BreakerStateStore` in this process: breakers in one process (or tests) sharing state. */
export function memoryBreakerStore(options: MemoryBreakerStoreOptions = {}): BreakerStateStore {
  checkOptions('memoryBreakerStore', options, ['clock']);
  const clock = clockOption('memoryBreakerStore', options.clock, systemClock);
  const records = new Map<string, BreakerRecord>();
  const listeners = new Map<string, Set<(record: BreakerRecord) => void>>();
  const leases = new Map<string, { owner: string; until: number }>();
  return {
    async get(name) {
      return records.get(name);
    },
    async set(name, record) {
      const stored = records.get(name);
      if (stored !== undefined && stored.version >= record.version) return false;
      const copy = Object.freeze({ ...record });
      records.set(name, copy);
      for (const listener of [...(listeners.get(name) ?? [])]) listener(copy);
      return true;
    },
    subscribe(name, listener) {
      let set = listeners.get(name);
      if (set === undefined) {
        set = new Set();
        listeners.set(name, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    async acquireTrial(name, owner, leaseMs) {
      const now = clock.now();
      const lease = leases.get(name);
      if (lease !== undefined && lease.owner !== owner && lease.until > now) return false;
      leases.set(name, { owner, until: now + leaseMs });
      return true;
    },
    async releaseTrial(name, owner) {
      if (leases.get(name)?.owner === owner) leases.delete(name);
    },
  };
}
