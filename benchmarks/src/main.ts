// `npm run bench [-- micro|scenarios|cache|http] [--smoke]`: micro (the default), the scenarios, caching, or the HTTP servers.
const which = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'micro';
const known: Record<string, string> = {
  micro: './micro.js',
  scenarios: './scenarios.js',
  cache: './cache.js',
  http: './http.js',
};
const file = known[which];
if (file === undefined) {
  console.error(`unknown benchmark "${which}": one of ${Object.keys(known).join(', ')}`);
  process.exit(2);
}
await import(file);
