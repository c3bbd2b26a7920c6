// Docs cannot drift from the API: every TypeScript block in a README must follow a
// `<!-- snippet: path -->` marker and equal that file, which CI type-checks (tsconfig includes
// examples/). A block without a marker fails the check, so no README can show code that was never compiled.
import { readdirSync, readFileSync } from 'node:fs';

const readmes = [
  'README.md',
  ...readdirSync('packages', { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `packages/${entry.name}/README.md`),
];
const block = /(<!-- snippet: (\S+) -->\n)?```(?:ts|typescript)\n([\s\S]*?)```/g;
let checked = 0;
const problems = [];
for (const readme of readmes) {
  const text = readFileSync(readme, 'utf8');
  for (const match of text.matchAll(block)) {
    const [, marker, path, code] = match;
    const line = text.slice(0, match.index).split('\n').length;
    if (marker === undefined) {
      problems.push(`${readme}:${line}: a TypeScript block without a "<!-- snippet: path -->" marker`);
      continue;
    }
    checked++;
    let source;
    try {
      source = readFileSync(path, 'utf8');
    } catch {
      problems.push(`${readme}:${line}: snippet file ${path} does not exist`);
      continue;
    }
    if (source.trim() !== code.trim()) problems.push(`${readme}:${line}: the block differs from ${path}`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`snippets: ${checked} README blocks match their example files`);
