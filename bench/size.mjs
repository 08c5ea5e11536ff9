// Minified + gzipped size of a module with its dependencies bundled, as esbuild and gzip -9 give it.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

/** Bundles `entry` (module source, resolved from bench/) and returns its minified and gzipped sizes in bytes. */
export async function minGz(entry) {
  const { outputFiles } = await build({
    stdin: { contents: entry, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    mainFields: ['module', 'main'],
  });
  const code = outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

/** The main entries of duta and of its nearest peers. */
export async function sizes() {
  return {
    duta: (await minGz("export * from '../dist/esm/index.js';")).gzipped,
    'p-limit': (await minGz("export { default } from 'p-limit';")).gzipped,
    'p-queue': (await minGz("export { default } from 'p-queue';")).gzipped,
    bottleneck: (await minGz("export { default } from 'bottleneck';")).gzipped,
  };
}
