// What every store here shares: the key layout under a prefix, Lua scripts registered once per
// client, an operation timeout (a Redis that is down must fail a call fast, not queue it), and one
// pub/sub subscription per channel that wakes waiters by topic.

import { checkCacheKey } from '@breakwater/core';
import type { Redis } from 'ioredis';

export interface RedisStoreOptions {
  /** An ioredis client the application made (and closes). */
  client: Redis;
  /** Every key this store writes starts with it. @default 'bw' */
  prefix?: string;
  /** A Redis operation that takes longer fails (the policy then does without the store). @default 1_000 */
  operationTimeoutMs?: number;
  /** Keys (a user's part) longer than this many UTF-8 bytes are refused, as are empty and non-string ones. @default 1_024 */
  maxKeyBytes?: number;
}

export interface ResolvedStoreOptions {
  client: Redis;
  prefix: string;
  operationTimeoutMs: number;
  /** `prefix:kind:key`, the key checked first. */
  keyOf: (kind: string, key: string) => string;
}

export function storeOptions(
  where: string,
  options: RedisStoreOptions,
  known: readonly string[],
): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${where}: options must be an object`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`${where}: unknown option "${k}"`);
  }
  const client = options.client as Partial<Redis> | undefined;
  if (typeof client?.defineCommand !== 'function' || typeof client.duplicate !== 'function') {
    throw new TypeError(`${where}: option "client" must be an ioredis client (new Redis(url))`);
  }
  const prefix = options.prefix ?? 'bw';
  if (typeof prefix !== 'string' || prefix === '')
    throw new TypeError(`${where}: option "prefix" must be a non-empty string`);
  const operationTimeoutMs = options.operationTimeoutMs ?? 1_000;
  if (typeof operationTimeoutMs !== 'number' || !(operationTimeoutMs > 0)) {
    throw new RangeError(`${where}: option "operationTimeoutMs" must be a positive number of ms`);
  }
  const maxKeyBytes = options.maxKeyBytes ?? 1_024;
  if (!Number.isInteger(maxKeyBytes) || maxKeyBytes < 1) {
    throw new RangeError(`${where}: option "maxKeyBytes" must be a positive integer`);
  }
  const checkedKeyOf = (kind: string, key: string): string => {
    const bad = checkCacheKey(where, key, maxKeyBytes);
    if (bad !== undefined) throw bad;
    return keyOf(prefix, kind, key);
  };
  return { client: options.client, prefix, operationTimeoutMs, keyOf: checkedKeyOf };
}

/**
 * A key under the prefix: `prefix:kind:userKey`. The user's part comes last and Redis keys are
 * binary-safe, so no byte in it (the separator, `*`, a newline) can reach another kind or prefix.
 */
export const keyOf = (prefix: string, kind: string, key: string): string => `${prefix}:${kind}:${key}`;

const RECENT_MS = 2_000;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Registers `lua` on the client once (ioredis runs it by EVALSHA, loading it on NOSCRIPT). A
 * `numberOfKeys` of `undefined` means the first argument says how many keys follow.
 */
export function script(client: Redis, name: string, numberOfKeys: number | undefined, lua: string): ScriptFn {
  const commands = client as unknown as Record<string, ScriptFn | undefined>;
  if (typeof commands[name] !== 'function') {
    client.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
  return (...args) => (commands[name] as ScriptFn).apply(client, args);
}

/** Rejects when `promise` takes longer than `ms`: a Redis that is down fails the operation, not the caller's wait. */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis ${what} took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * One channel on a subscriber connection (the one given, or a duplicate of the client made on first
 * use): messages go to `onMessage`; `onReconnect` runs when the connection comes back after a loss,
 * when messages may have been missed.
 */
export class Subscription {
  private subscriber: Redis | undefined;
  private subscribed: Promise<boolean> | undefined;
  private connectedOnce = false;
  private readonly handleMessage = (channel: string, message: string): void => {
    if (channel === this.channel) this.onMessage(message);
  };
  private readonly handleReady = (): void => {
    if (this.connectedOnce) this.onReconnect?.();
    this.connectedOnce = true;
  };

  constructor(
    private readonly client: Redis,
    readonly channel: string,
    private readonly given: Redis | undefined,
    private readonly timeoutMs: number,
    private readonly onMessage: (message: string) => void,
    private readonly onReconnect?: () => void,
  ) {}

  /** Subscribes (once): `true` when subscribed; never rejects: with Redis away `false`, and the next call tries again. */
  ready(): Promise<boolean> {
    if (this.subscribed === undefined) {
      // One connection for the subscription's life: a failed try waits again on the same connection
      // (ioredis keeps reconnecting it), it never makes another.
      let subscriber = this.subscriber;
      let alreadyReady = false;
      if (subscriber === undefined) {
        subscriber = this.given ?? this.client.duplicate();
        this.subscriber = subscriber;
        // Our own connection's errors show as failed commands, reported by the stores; without a
        // listener ioredis would print every failed reconnect.
        if (this.given === undefined) subscriber.on('error', () => undefined);
        subscriber.on('message', this.handleMessage);
        subscriber.on('ready', this.handleReady);
        // A duplicate of a lazyConnect client waits to be told to connect.
        if (subscriber.status === 'wait') subscriber.connect().catch(() => undefined);
        alreadyReady = subscriber.status === 'ready';
        if (alreadyReady) this.handleReady();
      }
      const connection = subscriber;
      // A client made with enableOfflineQueue: false refuses commands until it is ready: wait for it.
      // ioredis subscribes again by itself after a reconnect.
      let stopWaiting: (() => void) | undefined;
      const ready =
        alreadyReady || connection.status === 'ready'
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const onReady = () => resolve();
              connection.once('ready', onReady);
              stopWaiting = () => connection.off('ready', onReady);
            });
      this.subscribed = within(
        this.timeoutMs,
        'SUBSCRIBE',
        ready.then(() => connection.subscribe(this.channel)),
      ).then(
        () => true,
        () => {
          stopWaiting?.();
          if (this.subscriber === connection) this.subscribed = undefined;
          return false;
        },
      );
    }
    return this.subscribed;
  }

  /** Unsubscribes; disconnects the connection it made itself. */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    if (subscriber === undefined) return;
    this.subscriber = undefined;
    this.subscribed = undefined;
    subscriber.off('message', this.handleMessage);
    subscriber.off('ready', this.handleReady);
    if (this.given === undefined) subscriber.disconnect();
    else await subscriber.unsubscribe(this.channel).catch(() => undefined);
  }
}

/** Waiters woken by messages on one channel, each message a topic (a key). */
export class Waker {
  private readonly subscription: Subscription;
  private readonly waiting = new Map<string, Set<() => void>>();
  /**
   * Topics that had a message nobody was waiting for, with when. A waiter that asked just before the
   * message (its reply and the message travel on two connections) finds it here instead of missing it.
   */
  private readonly recent = new Map<string, number>();

  constructor(client: Redis, channel: string, given: Redis | undefined, timeoutMs: number) {
    this.subscription = new Subscription(client, channel, given, timeoutMs, (topic) => this.wake(topic));
  }

  private wake(topic: string): void {
    const set = this.waiting.get(topic);
    if (set === undefined) {
      const now = Date.now();
      this.recent.set(topic, now);
      if (this.recent.size > 1_000) {
        for (const [t, at] of this.recent)
          if (now - at > RECENT_MS || this.recent.size > 1_000) this.recent.delete(t);
      }
      return;
    }
    this.waiting.delete(topic);
    for (const resolve of set) resolve();
  }

  /** Subscribes now, so a message published right after this resolves is not missed. */
  ready(): Promise<unknown> {
    return this.subscription.ready();
  }

  /** Resolves on a message for `topic`, after `ms`, or when `signal` aborts; never rejects. */
  async wait(topic: string, ms: number, signal?: AbortSignal): Promise<void> {
    await this.subscription.ready();
    if (signal?.aborted) return;
    const at = this.recent.get(topic);
    if (at !== undefined) {
      this.recent.delete(topic);
      if (Date.now() - at <= RECENT_MS) return;
    }
    await new Promise<void>((resolve) => {
      let set = this.waiting.get(topic);
      if (set === undefined) {
        set = new Set();
        this.waiting.set(topic, set);
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const s = this.waiting.get(topic);
        s?.delete(done);
        if (s?.size === 0) this.waiting.delete(topic);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  close(): Promise<void> {
    return this.subscription.close();
  }
}
