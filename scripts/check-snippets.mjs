// Docs cannot drift from the API: every code block in a README that follows
// `<!-- snippet: path -->` must equal that file, which CI type-checks (tsconfig includes examples/).
import { readFileSync } from 'node:fs';

const readmes = ['README.md', 'packages/core/README.md', 'packages/fetch/README.md'];
const marker = /<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)```/g;
let checked = 0;
const problems = [];
for (const readme of readmes) {
  const text = readFileSync(readme, 'utf8');
  for (const [, path, block] of text.matchAll(marker)) {
    checked++;
    let source;
    try {
      source = readFileSync(path, 'utf8');
    } catch {
      problems.push(`${readme}: snippet file ${path} does not exist`);
      continue;
    }
    if (source.trim() !== block.trim())
      problems.push(`${readme}: the block after "snippet: ${path}" differs from the file`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`snippets: ${checked} README blocks match their example files`);
