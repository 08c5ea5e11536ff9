// Size budget: the ESM entry bundled with its dependencies (p-limit, yocto-queue), minified and gzipped.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 4 * 1024;

const { outputFiles } = await build({
  entryPoints: ['dist/esm/index.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
});
const code = outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
const line = `size: ${code.length} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`;
if (gzipped > BUDGET_BYTES) {
  console.error(`${line}: over budget`);
  process.exit(1);
}
console.log(line);
