// Size budget: the ESM entry bundled with its dependencies (p-limit and its yocto-queue), minified and gzipped.
// 4 KB until the slot-based core (one p-limit grant runs jobs back to back with handlers made once per
// slot), which halved the per-task overhead for about 360 B; each later raise is recorded in CHANGELOG.md.
import { minGz } from '../bench/size.mjs';

const BUDGET_BYTES = 4.5 * 1024;

const { minified, gzipped } = await minGz("export * from '../dist/esm/index.js';");
const line = `size: ${minified} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`;
if (gzipped > BUDGET_BYTES) {
  console.error(`${line}: over budget`);
  process.exit(1);
}
console.log(line);
