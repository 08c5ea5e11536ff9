// `npm run soak`: 10^6 tasks through submit and getResult with the default maxResults (10,000), heap
// sampled after GC every 100,000. Passes when the heap stays flat: the last sample within 10 % (and
// 2 MB) of the one taken after warm-up. Not part of `npm test`; needs `node --expose-gc`.
import { Dispatcher } from '../dist/esm/index.js';

const TOTAL = Number(process.env.SOAK_TASKS ?? 1_000_000);
const CHUNK = 10_000;
const SAMPLE_EVERY = 100_000;

const heap = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
  return process.memoryUsage().heapUsed;
};

const d = new Dispatcher({ maxWorkers: 64 });
const samples = [];
const started = performance.now();
let checked = 0;
for (let done = 0; done < TOTAL; done += CHUNK) {
  const ids = [];
  for (let i = 0; i < CHUNK; i++) {
    ids.push(d.submit({ id: `t${done + i}`, func: async (n) => n * 2, args: [done + i] }));
  }
  await d.onIdle();
  // Every result of the chunk is there to look up (the store holds the last 10,000).
  for (const id of ids) {
    const r = d.getResult(id);
    if (r?.status !== 'done') {
      throw new Error(`task ${id} has no result: ${JSON.stringify(r)}`);
    }
    checked++;
  }
  if ((done + CHUNK) % SAMPLE_EVERY === 0) {
    const bytes = await heap();
    samples.push(bytes);
    console.log(`${(done + CHUNK).toLocaleString('en-US').padStart(9)} tasks: heap ${(bytes / 1e6).toFixed(2)} MB, results kept ${d.results.size}`);
  }
}
const seconds = (performance.now() - started) / 1000;
const warm = samples[1] ?? samples[0];
const last = samples.at(-1);
const bound = Math.max(warm * 1.1, warm + 2e6);
console.log(`\n${checked.toLocaleString('en-US')} tasks in ${seconds.toFixed(1)} s; heap after warm-up ${(warm / 1e6).toFixed(2)} MB, at the end ${(last / 1e6).toFixed(2)} MB (bound ${(bound / 1e6).toFixed(2)} MB)`);
if (last > bound) {
  console.error('soak: the heap grew');
  process.exit(1);
}
console.log('soak: flat');
