// `npm run test:runtimes`: the smoke test (runtimes/smoke.mjs) on Node, Bun, Deno, Cloudflare's workerd
// (through miniflare) and the Vercel edge runtime. The built core and the test are bundled into one file
// per runtime by esbuild, as a platform would, for the neutral platform: a `node:` import would fail.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const here = import.meta.dirname;
const out = join(here, '.build');
const bin = (name) => join(here, '..', 'node_modules', '.bin', name);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

async function bundle(name, contents, format = 'esm') {
  const file = join(out, name);
  await build({
    stdin: { contents, resolveDir: here, loader: 'js' },
    bundle: true,
    format,
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    outfile: file,
    logLevel: 'error',
  });
  return file;
}

const main = `import { smoke } from './smoke.mjs';
const failures = await smoke();
console.log(failures.length === 0 ? 'ok' : 'FAILED: ' + failures.join('; '));`;

const results = {};
const run = async (runtime, fn) => {
  const started = performance.now();
  try {
    results[runtime] = (await fn()).trim();
  } catch (error) {
    results[runtime] = `FAILED: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
  console.log(`${runtime.padEnd(8)} ${results[runtime]} (${Math.round(performance.now() - started)} ms)`);
};

const script = await bundle('main.mjs', main);
await run('node', () => execFileSync(process.execPath, [script], { encoding: 'utf8' }));
await run('bun', () => execFileSync(bin('bun'), [script], { encoding: 'utf8' }));
await run('deno', () => execFileSync(bin('deno'), ['run', '--quiet', script], { encoding: 'utf8', env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } }));

await run('workerd', async () => {
  const { Miniflare } = await import('miniflare');
  const worker = await bundle(
    'worker.mjs',
    `import { smoke } from './smoke.mjs';
export default { async fetch() { const failures = await smoke(); return new Response(failures.length === 0 ? 'ok' : 'FAILED: ' + failures.join('; ')); } };`,
  );
  const mf = new Miniflare({ modules: true, scriptPath: worker, compatibilityDate: '2025-09-01' });
  try {
    return await (await mf.dispatchFetch('http://localhost/')).text();
  } finally {
    await mf.dispose();
  }
});

await run('edge', async () => {
  const { EdgeVM } = await import('@edge-runtime/vm');
  const code = await bundle('edge.js', `import { smoke } from './smoke.mjs'; globalThis.__smoke = smoke;`, 'iife');
  const vm = new EdgeVM();
  vm.evaluate((await import('node:fs')).readFileSync(code, 'utf8'));
  const failures = await vm.evaluate('__smoke()');
  return failures.length === 0 ? 'ok' : `FAILED: ${failures.join('; ')}`;
});

writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
const failed = Object.entries(results).filter(([, result]) => result !== 'ok');
if (failed.length > 0) {
  console.error(`runtimes failed: ${failed.map(([name]) => name).join(', ')}`);
  process.exit(1);
}
console.log('all runtimes ok');
