// One memory measurement, in its own process (node --expose-gc): bytes per task queued behind a worker
// that never finishes, after GC. Task inputs are made before the baseline, so only the library's own
// per-task state is counted. Prints one JSON line.
import pLimit from 'p-limit';
import { Dispatcher } from '../dist/esm/index.js';

const [mode, countText] = process.argv.slice(2);
const n = Number(countText);
const blocked = () => new Promise(() => {});
const ids = Array.from({ length: n }, (_, i) => `t${i}`);
const tasks = mode === 'p-limit' ? [] : ids.map((id) => ({ id, func: blocked }));
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
};
await settle();
const before = process.memoryUsage().heapUsed;
let keep;
if (mode === 'p-limit') {
  const limit = pLimit(1);
  // The limiter stays reachable, as in an app: otherwise its whole queue is garbage, since the one
  // running task can never resume it, and only the returned promises would be counted.
  keep = [limit, ids.map(() => limit(blocked))];
} else if (mode === 'duta dispatch') {
  const d = new Dispatcher({ maxWorkers: 1, timeoutMs: Infinity });
  keep = [d, d.dispatch(tasks)];
} else {
  const d = new Dispatcher({ maxWorkers: 1, timeoutMs: Infinity });
  for (const task of tasks) {
    d.submit(task);
  }
  keep = d;
}
await settle();
const after = process.memoryUsage().heapUsed;
console.log(JSON.stringify({ mode, n, bytesPerTask: (after - before) / n, kept: keep !== undefined }));
process.exit(0);
