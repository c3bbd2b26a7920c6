// The built package as users load it: `npm test` builds dist first (pretest).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../../../', import.meta.url);

function run(code: string) {
  return spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 15_000 });
}

describe('@breakwater/core as installed', () => {
  it('loads with require() from CommonJS (Node >= 20.19 loads ES modules synchronously)', () => {
    const child = run(`
      const core = require('@breakwater/core');
      const { createFakeClock } = require('@breakwater/core/testing');
      core.retry().execute(() => 'ok').then((v) => console.log(v, typeof createFakeClock));
    `);
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('ok function');
    expect(child.status).toBe(0);
  });

  it('ships no source maps pointing at sources it does not ship', () => {
    const child = run(`
      const { readdirSync } = require('node:fs');
      const files = readdirSync('packages/core/dist', { recursive: true }).map(String);
      console.log(files.filter((f) => f.endsWith('.map')).length, files.some((f) => f.endsWith('index.js')));
    `);
    expect(child.stdout.trim()).toBe('0 true');
  });
});
