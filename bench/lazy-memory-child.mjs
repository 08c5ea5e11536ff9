// One peak-heap measurement of a run over an async generator, in its own process (node --expose-gc):
// `node --expose-gc bench/lazy-memory-child.mjs <runner> <n>`. Prints one JSON line.
//
// A timer samples the heap while the run goes on, and once after it ends (with the run's return value
// still held, as a caller would hold it), and keeps the highest sample. Each sample is taken right after
// a full GC, so it counts what the run keeps alive (a results array, queued tasks, a results store) and
// not the garbage waiting for the next scavenge: that garbage is bounded by the young generation's size,
// alike for every library, and would hide a growth that comes with N. A full GC takes milliseconds, so
// the next sample comes at least four GCs' time later: the run spends at most a fifth of its time in
// them, and runs long enough between samples for its state to be the usual one. Times are measured
// elsewhere, without these GCs.
import { lazyRunners } from './lazy.mjs';

const SAMPLE_MS = 10;
const [name, countText] = process.argv.slice(2);
const run = lazyRunners[name];
if (run === undefined) {
  throw new Error(`unknown runner ${JSON.stringify(name)}: one of ${Object.keys(lazyRunners).join(', ')}`);
}
const n = Number(countText);
const gc = globalThis.gc;
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
};

await settle();
const before = process.memoryUsage().heapUsed;
let peak = 0;
let samples = 0;
/** Samples the live heap; returns how long the GC took, in ms. */
const sample = () => {
  const started = performance.now();
  gc();
  peak = Math.max(peak, process.memoryUsage().heapUsed - before);
  samples++;
  return performance.now() - started;
};
let timer;
const sampleLater = (delayMs) => {
  timer = setTimeout(() => sampleLater(Math.max(SAMPLE_MS, 4 * sample())), delayMs);
};
sampleLater(SAMPLE_MS);
const kept = await run(n);
clearTimeout(timer);
sample();
console.log(JSON.stringify({ name, n, peakBytes: peak, samples, kept: kept !== undefined }));
process.exit(0);
