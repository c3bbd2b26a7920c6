// Every example runs on its own (it starts any server it needs) and shows what it is named for.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const expected: Record<string, RegExp> = {
  'policies/compose.ts': /\{ id: '42' \} \{ id: '7' \}/,
  'policies/timeout.ts':
    /gave up after \d+ ms: Operation timed out after 300 ms\nOperation timed out after 100 ms\nfast enough/,
  'policies/retry.ts': /attempt 1 failed; next in \d+ ms\nattempt 2 failed; next in \d+ ms\ndone/,
  'policies/circuit-breaker.ts': /refused; isolated: true[\s\S]*closed$/,
  'policies/bulkhead.ts': /slept 10\nslept 20\nslept 30\nrejected: full/,
  'policies/fallback.ts': /^\[\]$/,
  'policies/custom-policy.ts': /key seen inside: acme:user-42/,
  'policies/idempotency.ts': /^5 answers, 1 charge: ch_1\nmismatch$/,
  'redis/shared-cache.ts':
    /^3 reads, 1 load: \{"sku":"A1","cents":1999\}\ncharged \{"charge":1\}, replayed \{"charge":1\}$/,
  'express-api/main.ts':
    /^201 \{"id":"1","item":"book"\} 201 true\n200 breakwater; fwd=miss, 200 breakwater; hit, 200 breakwater; hit, 429 null\nRateLimit: "default";r=0;t=3$/,
  'fastify-api/main.ts':
    /^201 \{"id":"1","item":"book"\} 201 true\n200 breakwater; fwd=miss, 200 breakwater; hit, 200 breakwater; hit, 429 null\nRateLimit: "default";r=0;t=3\n504$/,
  'outbound-fetch/main.ts':
    /^answer 1, the deadline sent\nanswer 3, the deadline sent\nanswer 4, the deadline sent\nanswer 5, the deadline sent$/,
  'redis-cluster-cache/main.ts':
    /^(a process read 100 × \{"sku":"A1","cents":1999\}\n){3}3 processes × 100 reads, 1 origin load$/,
  'policies/cache.ts': /^100 readers, 1 load, load #1\nafter invalidateTag: load #2$/,
  'otel/main.ts':
    /breakwater\.events .*"breakwater\.event":"retry".* 2\n[\s\S]*breakwater\.circuit\.state .* 0/,
  'fetch/undici.ts': /^200 ok on request 3 after 3 requests$/,
  'fetch/main.ts':
    /attempt 3 failed \(Operation timed out after 500 ms\)[\s\S]*200 ok on request 4 after 4 requests/,
};

describe('examples', () => {
  for (const [file, output] of Object.entries(expected)) {
    it(`${file} runs and shows its behaviour`, () => {
      const stdout = execFileSync(
        process.execPath,
        ['--import', 'tsx', new URL(file, import.meta.url).pathname],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      expect(stdout.trim()).toMatch(output);
    });
  }
});
