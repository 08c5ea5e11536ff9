// Size budget: the ESM entry bundled with its dependencies (p-limit, yocto-queue), minified and gzipped.
import { minGz } from '../bench/size.mjs';

const BUDGET_BYTES = 4 * 1024;

const { minified, gzipped } = await minGz("export * from '../dist/esm/index.js';");
const line = `size: ${minified} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`;
if (gzipped > BUDGET_BYTES) {
  console.error(`${line}: over budget`);
  process.exit(1);
}
console.log(line);
