import { IdempotencyMismatchError, idempotency, memoryIdempotencyStore } from '@breakwater/core';

// Duplicates wait up to 5 s for the first call's result instead of being refused.
const once = idempotency({ store: memoryIdempotencyStore(), wait: { maxMs: 5_000 } });

let charges = 0;
const charge = (key: string, amount: number) =>
  once.execute(
    async () => {
      charges++;
      await new Promise((resolve) => setTimeout(resolve, 20)); // the payment provider
      return { id: `ch_${charges}`, amount };
    },
    { idempotencyKey: key, fingerprint: `charge:${amount}` },
  );

// A client retrying the same request five times at once: one charge.
const answers = await Promise.all(Array.from({ length: 5 }, () => charge('order-17', 500)));
console.log(`${answers.length} answers, ${charges} charge: ${answers[0]!.id}`);

// The same key with another payload is refused, not replayed.
await charge('order-17', 900).catch((e: unknown) =>
  console.log(e instanceof IdempotencyMismatchError ? 'mismatch' : e),
);
