import { describe, expect, it } from 'vitest';
import { Subscription } from './redis-shared.js';
import { connect, unreachableClient } from './test-redis.js';

describe('Subscription', () => {
  it('keeps one connection of its own while Redis is away, and subscribes on it when Redis is there', async () => {
    const down = unreachableClient();
    let made = 0;
    const duplicate = down.duplicate.bind(down);
    down.duplicate = ((...args: Parameters<typeof duplicate>) => {
      made++;
      return duplicate(...args);
    }) as typeof down.duplicate;
    const subscription = new Subscription(down, 'bwtest:sub', undefined, 50, () => undefined);
    for (let i = 0; i < 5; i++) expect(await subscription.ready()).toBe(false);
    expect(made).toBe(1); // every try waited on the same connection: none leaked
    await subscription.close();
    down.disconnect();

    const client = await connect();
    const messages: string[] = [];
    const live = new Subscription(client, 'bwtest:sub-live', undefined, 1_000, (m) => messages.push(m));
    expect(await live.ready()).toBe(true);
    await client.publish('bwtest:sub-live', 'hello');
    for (let i = 0; i < 100 && messages.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(messages).toEqual(['hello']);
    await live.close();
    client.disconnect();
  });
});
