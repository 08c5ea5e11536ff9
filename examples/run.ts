// `npm run example -- <name>` runs examples/<name>.ts.
import { readdirSync } from 'node:fs';

const available = readdirSync(import.meta.dirname)
  .filter((file) => file.endsWith('.ts') && !['run.ts', 'llm.ts', 'demo.ts'].includes(file))
  .map((file) => file.slice(0, -3));
const name = process.argv[2];
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run example -- <name>\nexamples: ${available.join(', ')}`);
  process.exit(name === undefined ? 0 : 1);
}
await import(`./${name}.ts`);
