// Minified + gzipped size of each package's main entry with its dependencies bundled.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

async function minGz(entry) {
  const { outputFiles } = await build({ stdin: { contents: entry, resolveDir: import.meta.dirname, loader: 'js' }, bundle: true, minify: true, format: 'esm', platform: 'neutral', target: 'es2022', write: false, logLevel: 'silent', mainFields: ['module', 'main'] });
  return gzipSync(outputFiles[0].contents, { level: 9 }).length;
}

export async function sizes() {
  return {
    duta: await minGz("export * from '../dist/esm/index.js';"),
    'p-limit': await minGz("export { default } from 'p-limit';"),
    'p-queue': await minGz("export { default } from 'p-queue';"),
  };
}
