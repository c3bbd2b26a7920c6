import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { keyOf, type RedisStoreOptions, Subscription, storeOptions, within } from './redis-shared.js';

/** What one instance tells the others about its cache: an entry set or deleted, a tag invalidated. */
export type BusMessage =
  | { type: 'set' | 'delete'; key: string }
  | { type: 'tag'; tag: string }
  | { type: 'reset' };

export interface CacheBus {
  publish(message: BusMessage): Promise<void>;
  /** `handler` gets the other instances' messages, and `{ type: 'reset' }` after a reconnect (some may be lost). */
  subscribe(handler: (message: BusMessage) => void): () => void;
  /** `true` once messages are being received (until then an instance cannot know what it missed). */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export interface RedisBusOptions extends RedisStoreOptions {
  /** A connection for pub/sub. @default a duplicate of `client` */
  subscriber?: Redis;
  /** The channel, under the prefix. @default 'cache-bus' */
  channel?: string;
}

/** Cache coherence over Redis pub/sub; an instance ignores its own messages. */
export function redisBus(options: RedisBusOptions): CacheBus {
  const { client, prefix, operationTimeoutMs } = storeOptions('redisBus', options, [
    'client',
    'prefix',
    'operationTimeoutMs',
    'subscriber',
    'channel',
  ]);
  const channelName = options.channel ?? 'cache-bus';
  if (typeof channelName !== 'string' || channelName === '') {
    throw new TypeError('redisBus: option "channel" must be a non-empty string');
  }
  const channel = keyOf(prefix, 'meta', channelName);
  const me = randomUUID();
  const handlers = new Set<(message: BusMessage) => void>();
  const deliver = (message: BusMessage) => {
    for (const handler of [...handlers]) handler(message);
  };
  const subscription = new Subscription(
    client,
    channel,
    options.subscriber,
    operationTimeoutMs,
    (text) => {
      let parsed: { from?: unknown; message?: BusMessage };
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        return; // not ours
      }
      if (parsed.from !== me && parsed.message !== undefined) deliver(parsed.message);
    },
    () => deliver({ type: 'reset' }),
  );
  return {
    async publish(message) {
      await within(
        operationTimeoutMs,
        'PUBLISH',
        client.publish(channel, JSON.stringify({ from: me, message })),
      );
    },
    subscribe(handler) {
      handlers.add(handler);
      void subscription.ready();
      return () => {
        handlers.delete(handler);
      };
    },
    ready: () => subscription.ready(),
    close: () => subscription.close(),
  };
}
