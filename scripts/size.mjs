// Size budget: the ESM entry bundled with its dependencies (p-limit and its yocto-queue), minified and gzipped.
// The budget grows only with a feature that needs it, each raise recorded in CHANGELOG.md: 4 KB for the
// first core; 4.5 KB for the slot-based core (half the per-task overhead for about 360 B); 8 KB for
// retries, Retry-After, the queue-wide pause, adaptive concurrency and events (about 2.7 KB); 10 KB for
// rate limits with cost correction, keys with fair turns, budgets and deadlines (about 2.2 KB). For scale,
// bottleneck, the one peer with rate limits, is about 15 KB; 11 KB for streaming, progress, stats and
// running tasks in their callers' async context (about 1.1 KB); 12 KB for waitUntil and the fixes of
// three independent reviews (about 0.3 KB); 14 KB for the reshaped core (the admission seam, shared
// timeout lists, results folded on read, batch ids kept per batch, unknown task fields refused: about
// 2.2 KB), while the target of 12 KB is worked towards and reported in BENCHMARKS.md; 16 KB for
// the three LLM clients' errors and usage (about 0.5 KB) and cancel, clear, backpressure and lazy inputs
// (about 1.1 KB); 17 KB for the names suggested for unknown options and task fields (about 0.6 KB) and
// the fleet hooks of the main entry (the coordinator option, lookup, flush, 'lost': about 0.2 KB).
import { minGz } from '../bench/size.mjs';

const BUDGET_BYTES = 17 * 1024;

const { minified, gzipped } = await minGz("export * from '../dist/esm/index.js';");
const line = `size: ${minified} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`;
if (gzipped > BUDGET_BYTES) {
  console.error(`${line}: over budget`);
  process.exit(1);
}
console.log(line);
