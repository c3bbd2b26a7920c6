// `npm run bench -- scenarios`: the six scenarios on the simulation kit's virtual clock (seeded and
// repeatable), each beside its published anchor, then a real-time spot check of scenarios 1 and 6
// against a node:http server on 127.0.0.1. Writes benchmarks/results/scenarios.md and SVG charts.

import { mkdirSync, writeFileSync } from 'node:fs';
import {
  amplificationScenario,
  jitterScenario,
  overloadScenario,
  type ScenarioOptions,
  type ScenarioResult,
  stormScenario,
  tailAtScale,
  throttlingScenario,
} from './scenarios/index.js';
import { spotCheck } from './scenarios/spot-check.js';

const smoke = process.argv.includes('--smoke');
const seedArg = process.argv.find((a) => a.startsWith('--seed='));
const options: ScenarioOptions = { smoke, seed: seedArg === undefined ? 42 : Number(seedArg.slice(7)) };
const all: [string, (o: ScenarioOptions) => Promise<ScenarioResult>][] = [
  ['tail-at-scale', tailAtScale],
  ['jitter', jitterScenario],
  ['amplification', amplificationScenario],
  ['throttling', throttlingScenario],
  ['storm', stormScenario],
  ['overload', overloadScenario],
];

// A smoke run writes beside, not over, the committed figures of the last full run.
const results = new URL(smoke ? '../results/smoke/' : '../results/', import.meta.url);
mkdirSync(results, { recursive: true });
const sections: string[] = [];
let missed = 0;
const started = performance.now();
for (const [name, run] of all) {
  const t0 = performance.now();
  process.stdout.write(`running ${name}…`);
  const result = await run(options);
  process.stdout.write(` ${((performance.now() - t0) / 1_000).toFixed(1)} s\n`);
  const checks = result.checks.map((c) => {
    if (!c.met) missed++;
    return `- ${c.met ? 'met' : '**missed**'}: ${c.target} — ${c.figure}`;
  });
  const section = [
    `## ${result.title}`,
    '',
    `Anchor: ${result.anchor}.`,
    '',
    result.body,
    '',
    ...checks,
  ].join('\n');
  console.log(`\n${section}\n`);
  sections.push(section);
  for (const chart of result.charts) {
    writeFileSync(new URL(chart.file, results), chart.svg);
    sections.push(`![${chart.file}](${chart.file})`);
  }
}
const simSeconds = (performance.now() - started) / 1_000;
const spot = await spotCheck({ smoke });
console.log(`\n${spot}\n`);
sections.push(spot);
const header = [
  '# Scenario benchmarks',
  '',
  `Node ${process.version}, seed ${options.seed}${smoke ? ' (smoke run: figures are not meaningful)' : ''}. The simulated scenarios took ${simSeconds.toFixed(1)} s of wall time; ${missed} target(s) missed.`,
  '',
].join('\n');
writeFileSync(new URL('scenarios.md', results), `${header}\n${sections.join('\n\n')}\n`);
console.log(
  `${missed} target(s) missed; wrote ${new URL('scenarios.md', results).pathname} and the charts beside it`,
);
