// Lazy inputs and stream(): duta's stream() over an async generator of N trivial tasks against p-map on
// the same generator (time per task here, interleaved; peak heap in a fresh process per library), and
// stream() over arrays of two sizes, whose time per task must not grow with N.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pMap, { pMapIterable } from 'p-map';
import { Dispatcher } from '../dist/esm/index.js';
import { trivial } from './libraries.mjs';

const C = 16;
const here = import.meta.dirname;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const shuffle = (items) => items.map((item) => [Math.random(), item]).sort((a, b) => a[0] - b[0]).map(([, item]) => item);

/** The same input for every library: `n` tasks made one at a time, as a producer reading a file would. */
async function* tasks(n) {
  for (let i = 0; i < n; i++) {
    yield { id: `t${i}`, func: trivial };
  }
}

/**
 * Each runner takes N, runs N trivial tasks from a fresh async generator at concurrency 16, and returns
 * what a caller would hold afterwards (p-map's results array, the dispatcher and its results store).
 */
export const lazyRunners = {
  'duta stream': async (n) => {
    const d = new Dispatcher({ maxWorkers: C, timeoutMs: Infinity });
    for await (const result of d.stream(tasks(n))) {
      void result;
    }
    return d;
  },
  'p-map': (n) => pMap(tasks(n), (task) => task.func(), { concurrency: C }),
  'p-map pMapIterable': async (n) => {
    let count = 0;
    for await (const result of pMapIterable(tasks(n), (task) => task.func(), { concurrency: C })) {
      void result;
      count++;
    }
    return count;
  },
};

/** stream() over an array made beforehand, read to the end. */
async function streamArray(array) {
  const d = new Dispatcher({ maxWorkers: C, timeoutMs: Infinity });
  for await (const result of d.stream(array)) {
    void result;
  }
}

/**
 * ns per task of each runner over a generator of `n` tasks and of stream() over arrays of each of
 * `arrays` sizes, medians of `rounds` rounds in a fresh random order; then each runner's peak heap growth
 * over `memoryN` tasks, in a child process of its own.
 */
export async function measureLazy({ n = 1e6, arrays = [1e4, 3e5], memoryN = n, rounds = 5 } = {}) {
  const arrayOf = Object.fromEntries(arrays.map((size) => [size, Array.from({ length: size }, (_, i) => ({ id: `a${i}`, func: trivial }))]));
  const largest = Math.max(...arrays);
  const runs = {
    ...Object.fromEntries(Object.entries(lazyRunners).map(([name, run]) => [name, { tasks: n, reps: 1, run: () => run(n) }])),
    // A small array is run several times (up to 10) a sample, so that a sample is not a few milliseconds.
    ...Object.fromEntries(
      arrays.map((size) => [`stream array ${size}`, { tasks: size, reps: Math.max(1, Math.min(10, Math.round(largest / size))), run: () => streamArray(arrayOf[size]) }]),
    ),
  };
  const samples = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(Object.keys(runs))) {
      const { tasks: count, reps, run } = runs[name];
      globalThis.gc?.();
      const started = performance.now();
      for (let i = 0; i < reps; i++) {
        await run();
      }
      samples[name].push(((performance.now() - started) * 1e6) / (count * reps));
    }
  }
  const ns = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
  const heap = {};
  for (const name of Object.keys(lazyRunners)) {
    const out = execFileSync(process.execPath, ['--expose-gc', join(here, 'lazy-memory-child.mjs'), name, String(memoryN)], { encoding: 'utf8' });
    heap[name] = JSON.parse(out.trim().split('\n').pop()).peakBytes;
  }
  return { n, memoryN, arrays, rounds, c: C, ns, heap };
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const exp = (n) => Number(n).toExponential(0).replace('+', '');
const mb = (bytes) => fmt(bytes / 2 ** 20, 2);

/** The figures as log lines. */
export function lazyLines({ n, memoryN, arrays, ns, heap }) {
  const [small, large] = [Math.min(...arrays), Math.max(...arrays)];
  return [
    `lazy: async generator N=${exp(n)} C=${C}: ${Object.keys(lazyRunners).map((name) => `${name} ${fmt(ns[name])} ns`).join(', ')} (duta ${fmt(ns['duta stream'] / ns['p-map'], 2)}x p-map)`,
    `lazy: peak live heap growth N=${exp(memoryN)}: ${Object.keys(lazyRunners).map((name) => `${name} ${mb(heap[name])} MB`).join(', ')} (duta ${fmt(heap['duta stream'] / heap['p-map'], 2)}x p-map)`,
    `lazy: stream over arrays C=${C}: ${arrays.map((size) => `N=${exp(size)} ${fmt(ns[`stream array ${size}`])} ns`).join(', ')} (${fmt(ns[`stream array ${large}`] / ns[`stream array ${small}`], 2)}x)`,
  ];
}

/** The targets of this part: [what, value, goal]. */
export function lazyTargets({ memoryN, arrays, ns, heap }) {
  const [small, large] = [Math.min(...arrays), Math.max(...arrays)];
  const time = ns['duta stream'] / ns['p-map'];
  return [
    ['stream over an async generator, ns per task vs p-map', time, 2],
    ['stream over an async generator, ns per task vs p-map (stretch)', time, 1],
    [`stream over an async generator, peak heap growth vs p-map at N=${exp(memoryN)}`, heap['duta stream'] / heap['p-map'], 2],
    [`stream over arrays, ns per task at N=${exp(large)} vs N=${exp(small)}`, ns[`stream array ${large}`] / ns[`stream array ${small}`], 1.3],
  ];
}

/** The BENCHMARKS.md section: method and figures. */
export function lazyReport({ n, memoryN, arrays, rounds, ns, heap }) {
  const names = Object.keys(lazyRunners);
  return `## Lazy inputs and stream()

\`bench/lazy.mjs\`. An async generator yields N = ${fmt(n)} trivial tasks (\`{ id, func }\`, made one at a time);
duta reads it with \`for await (const r of dispatcher.stream(generator))\` at \`maxWorkers: ${C}\`, p-map with
\`pMap(generator, (task) => task.func(), { concurrency: ${C} })\`, and p-map's streaming \`pMapIterable\` likewise.
Time is the median of ${rounds} rounds, interleaved in random order with the array runs below, in this process.

**Peak heap growth** is measured in a fresh process per library (\`bench/lazy-memory-child.mjs\`), N = ${fmt(memoryN)}:
a timer forces a full GC and reads \`heapUsed\` while the run goes on (at least every 10 ms, and at most a fifth
of the run's time in GCs), once more after it ends with its return value held, and keeps the highest reading
above the baseline taken before the run. Reading after a full GC counts what a run keeps alive, not the garbage
waiting for the next scavenge, which is bounded by the young generation alike for every library. duta's growth
is mostly its results store (\`maxResults\`, 10,000 by default), a fixed cost; p-map's is its results array, one
entry per task, so the ratio falls as N grows.

| run | ns per task | vs p-map | peak heap growth | vs p-map |
|---|---:|---:|---:|---:|
${names.map((name) => `| ${name} | ${fmt(ns[name])} | ${fmt(ns[name] / ns['p-map'], 2)}× | ${mb(heap[name])} MB | ${fmt(heap[name] / heap['p-map'], 2)}× |`).join('\n')}

\`stream()\` over an array made beforehand (all tasks accepted at the call), at \`maxWorkers: ${C}\`; a small array
is run several times (up to 10) a sample:

| array of | ns per task | vs the smallest |
|---|---:|---:|
${arrays.map((size) => `| ${fmt(size)} | ${fmt(ns[`stream array ${size}`])} | ${fmt(ns[`stream array ${size}`] / ns[`stream array ${Math.min(...arrays)}`], 2)}× |`).join('\n')}
`;
}
