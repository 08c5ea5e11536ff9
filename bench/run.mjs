// `npm run bench [-- --quick] [-- --write]`: duta against its peers, in one process, interleaved so that
// machine drift hits every library alike. Reports medians and ratios; `--write` regenerates
// BENCHMARKS.md and bench/chart.svg from this run. Not part of `npm test`.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Dispatcher } from '../dist/esm/index.js';
import { libraries } from './libraries.mjs';
import { chart } from './chart.mjs';
import { sizes } from './size.mjs';
import { measureGoodput } from './goodput.mjs';
import { measureLimits } from './limits.mjs';
import { measureFeatures } from './features.mjs';
import { lazyLines, lazyReport, lazyTargets, measureLazy } from './lazy.mjs';
import { measureFleet } from './fleet.mjs';
import { profileDispatch, profileLines } from './profile.mjs';
import { startMockLlm } from '../dist/esm/testing/index.js';

const quick = process.argv.includes('--quick');
const write = process.argv.includes('--write');
const here = import.meta.dirname;
const gc = globalThis.gc ?? (() => {});
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const shuffle = (items) => items.map((item) => [Math.random(), item]).sort((a, b) => a[0] - b[0]).map(([, item]) => item);
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (line) => process.stdout.write(`${line}\n`);
const cores = availableParallelism();
const loadAtStart = loadavg()[0];
log(`load average at the start: ${loadAtStart.toFixed(2)} on ${cores} cores`);

// 1 and 3. Scheduling overhead and scaling.
const sizesN = quick ? [1e4, 1e5] : [1e4, 1e5, 1e6];
const concurrencies = [1, 16, 256];
const overhead = {};
for (const n of sizesN) {
  const ids = Array.from({ length: n }, (_, i) => `t${i}`);
  for (const c of concurrencies) {
    const names = Object.keys(libraries).filter((name) => name !== 'bottleneck' || n === 1e4);
    const rounds = n >= 1e6 ? 3 : 5;
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const name of shuffle(names)) {
        if (name === 'bottleneck' && round > 0) {
          continue; // about 2 ms a task: one round is all it gets.
        }
        gc();
        const started = performance.now();
        await libraries[name](ids, c);
        samples[name].push(((performance.now() - started) * 1e6) / n);
      }
    }
    for (const name of names) {
      (overhead[name] ??= {})[`${n}/${c}`] = median(samples[name]);
    }
    log(`overhead N=${n} C=${c}: ${names.map((name) => `${name} ${fmt(overhead[name][`${n}/${c}`])} ns`).join(', ')}`);
  }
}

// 1b. What each feature costs when switched on, against p-limit and the bare dispatcher.
const featureCosts = await measureFeatures(quick ? { n: 2e4, rounds: 3 } : { n: 1e5, rounds: 5 });
for (const [name, ns] of Object.entries(featureCosts)) {
  log(`feature ${name}: ${fmt(ns)} ns (${fmt(ns / featureCosts['p-limit'], 2)}x p-limit)`);
}

// 1b'. Where dispatch's time goes: the same case under V8's sampling profiler, in a fresh process.
const profile = profileDispatch(quick ? { n: 1e5, rounds: 2 } : { n: 1e5, rounds: 5 });
log(`profile of dispatch (N=1e5, C=16): ${profile.places.map(({ name, share }) => `${name} ${fmt(share * 100, 1)} %`).join(', ')}`);

// 1c. Lazy inputs: stream() over an async generator against p-map (time, and peak heap in fresh
// processes), and stream() over arrays of two sizes. Below N = 1.5e5, duta's fixed-size results store
// outweighs p-map's results array, so the quick run still measures the heap at 3e5.
const lazy = await measureLazy(quick ? { n: 2e5, memoryN: 3e5, rounds: 3 } : { n: 1e6, memoryN: 1e6, rounds: 5 });
for (const line of lazyLines(lazy)) {
  log(line);
}

// 2. Memory per queued task, each in a fresh process.
const memoryN = quick ? 1e5 : 1e6;
const memory = {};
for (const mode of ['p-limit', 'duta dispatch', 'duta submit']) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', join(here, 'memory-child.mjs'), mode, String(memoryN)], {
    encoding: 'utf8',
  });
  memory[mode] = JSON.parse(out.trim().split('\n').pop()).bytesPerTask;
  log(`memory ${mode}: ${fmt(memory[mode])} B/task queued (N=${memoryN})`);
}

// 4. Makespan: 50 tasks of 100 ms at C = 8, against ceil(N/C) x L.
const makespanRuns = [];
for (let i = 0; i < 3; i++) {
  const d = new Dispatcher({ maxWorkers: 8 });
  const started = performance.now();
  await d.dispatch(Array.from({ length: 50 }, (_, j) => ({ id: `m${j}`, func: () => new Promise((resolve) => setTimeout(resolve, 100)) })));
  makespanRuns.push(performance.now() - started);
}
const makespan = median(makespanRuns);
const idealMakespan = Math.ceil(50 / 8) * 100;
log(`makespan: ${fmt(makespan, 1)} ms against ideal ${idealMakespan} ms (${fmt(makespan / idealMakespan, 3)}x)`);

// 5. Timeout precision: 1000 never-settling tasks, C = 256, 50 ms timeout; lateness = duration - 50 ms.
const timeoutDispatcher = new Dispatcher({ maxWorkers: 256, timeoutMs: 50, abortGraceMs: 5 });
const timed = await timeoutDispatcher.dispatch(Array.from({ length: 1000 }, (_, i) => ({ id: `x${i}`, func: () => new Promise(() => {}) })));
const lateness = timed.map((r) => r.durationMs - 50).sort((a, b) => a - b);
const late = { p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: lateness.at(-1) };
log(`timeout lateness: p50 ${fmt(late.p50, 2)} ms, p99 ${fmt(late.p99, 2)} ms, max ${fmt(late.max, 2)} ms`);

// 6. Against the mock server over real HTTP: adaptive concurrency against a dispatcher told K exactly.
const goodput = await measureGoodput({ Dispatcher, startMockLlm }, quick ? { n: 300, rounds: 1 } : { n: 600, rounds: 3 });
log(
  `adaptive vs told K=${goodput.k}: goodput ${fmt(goodput.adaptive.goodput, 1)} against ${fmt(goodput.exact.goodput, 1)} requests/s ` +
    `(${fmt(goodput.ratio, 3)}x), 429s after warm-up ${fmt(goodput.adaptive.rejectedAfterWarmup * 100, 1)} %, final limit ${goodput.adaptive.limit}`,
);

// 6b. Rate limits told the server's own limits, in scaled time: exact estimates, then estimates 2x too high.
const limitRuns = quick ? { scale: 20, windows: 2 } : { scale: 5, windows: 4 };
const limits = await measureLimits({ Dispatcher, startMockLlm }, limitRuns);
const limits2x = await measureLimits({ Dispatcher, startMockLlm }, { ...limitRuns, overEstimate: 2 });
for (const r of [limits, limits2x]) {
  log(
    `rate limits (estimates ${r.overEstimate}x): ${r.tooMany} 429s, ${fmt(r.requestShare * 100, 1)} % of the request limit, ` +
      `${fmt(r.tokenShare * 100, 1)} % of the token limit over ${fmt(r.minutes, 2)} scaled minutes; ` +
      `the busiest minute of starts held ${r.busiestMinute.requests} requests and ${fmt(r.busiestMinute.tokens)} tokens`,
  );
}

// 6c. Many processes sharing one set of limits through duta/redis, on a private redis-server.
const fleet = await measureFleet({ startMockLlm }, quick ? { seconds: 1.5, mockSeconds: 15 } : { seconds: 3, mockSeconds: 65 });
if (fleet !== undefined) {
  for (const [name, r] of Object.entries(fleet.rows)) {
    log(
      `fleet ${name}: ${fmt(r.perSecond)} tasks/s, ${fmt(r.tripsPerTask, 3)} round trips/task, ` +
        `${fmt(r.cpuPerTaskUs, 1)} µs Redis CPU/task, ${fmt(r.commandsPerTask, 1)} Redis commands/task`,
    );
  }
  for (const [name, r] of Object.entries(fleet.mock.runs)) {
    log(
      `fleet vs mock LLM, ${name}: ${r.tooMany} 429s, ${fmt(r.requestShare * 100, 1)} % of the request limit, ` +
        `mean ${fmt(r.meanInFlight, 2)} in flight (peak ${r.peakConcurrent}) over ${fmt(r.elapsed, 1)} s`,
    );
  }
}

// 7. Size.
const size = await sizes();
log(`size (min+gz): ${Object.entries(size).map(([name, bytes]) => `${name} ${fmt(bytes)} B`).join(', ')}`);

// Ratios and targets.
const ratio = (a, b) => a / b;
const targets = [
  ['dispatch overhead at N=1e5, C=16 vs raw p-limit', ratio(overhead['duta dispatch']['100000/16'], overhead['p-limit']['100000/16']), 0.5],
  ['submit + waitFor overhead at N=1e5, C=16 vs raw p-limit', ratio(overhead['duta submit+waitFor']['100000/16'], overhead['p-limit']['100000/16']), 1.0],
  ['memory per queued task, dispatch vs p-limit', ratio(memory['duta dispatch'], memory['p-limit']), 0.45],
  ['memory per queued task, submit vs p-limit', ratio(memory['duta submit'], memory['p-limit']), 0.5],
  ...(overhead['duta dispatch']['1000000/16'] === undefined
    ? []
    : [['scaling 1e5 to 1e6 (dispatch, C=16)', ratio(overhead['duta dispatch']['1000000/16'], overhead['duta dispatch']['100000/16']), 1.3]]),
  ['makespan vs ideal', makespan / idealMakespan, 1.01],
  ['timeout lateness p99 at C=256 (ms)', late.p99, 5],
  ['adaptive goodput shortfall vs told K exactly', 1 - goodput.ratio, 0.1],
  ['adaptive share of 429s after warm-up', goodput.adaptive.rejectedAfterWarmup, 0.05],
  ['429s with the server\'s own limits', limits.tooMany, 0],
  ['throughput shortfall with the server\'s own limits', 1 - limits.throughput, 0.03],
  ['token throughput shortfall, estimates 2x too high', 1 - limits2x.tokenShare, 0.1],
  ['size of the main entry, min+gz (KB)', size.duta / 1024, 12],
  ...lazyTargets(lazy),
  ...(fleet === undefined ? [] : fleetTargets(fleet)),
];
log('\ntargets:');
for (const [what, value, target] of targets) {
  log(`  ${value <= target ? 'met ' : 'MISS'} ${what}: ${fmt(value, 3)} (target ≤ ${target})`);
}

const loadAtEnd = loadavg()[0];
// A machine busier than half its cores makes every figure noisier: the report says so.
// The benchmark itself keeps about one core busy: at the end, the load beyond that one is the machine's.
const loaded = Math.max(loadAtStart, loadAtEnd - 1) > cores / 2;
log(`load average at the end: ${loadAtEnd.toFixed(2)}${loaded ? ' (a loaded machine: figures are noisier)' : ''}`);

if (write) {
  const load = `load average ${loadAtStart.toFixed(2)} at the start and ${loadAtEnd.toFixed(2)} at the end${loaded ? ' — **a loaded machine: every figure below is noisier than on an idle one**' : ''}`;
  const machine = `${cores} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${process.platform}; ${load}`;
  writeFileSync(join(here, 'chart.svg'), chart(overhead, memory));
  writeFileSync(join(here, '..', 'BENCHMARKS.md'), report({ machine, overhead, featureCosts, lazy, memory, memoryN, makespan, idealMakespan, late, size, targets, goodput, limits, limits2x, fleet, profile }));
  log('\nwrote BENCHMARKS.md and bench/chart.svg');
}

/** The fleet's targets: 10× bottleneck's throughput, at most 3 round trips a task, a tenth of its Redis CPU; against the mock, no 429 and 95 % of the limit. */
function fleetTargets({ rows, mock }) {
  const one = rows['duta, 1 process'];
  const four = rows['duta, 4 processes'];
  const told = mock.runs['one coordinator'];
  return [
    ["fleet: bottleneck's tasks/s over duta's, 1 process", rows['bottleneck, 1 process'].perSecond / one.perSecond, 0.1],
    ["fleet: bottleneck's tasks/s over duta's, 4 processes", rows['bottleneck, 4 processes'].perSecond / four.perSecond, 0.1],
    ['fleet: Redis round trips per task, 4 processes', four.tripsPerTask, 3],
    ["fleet: Redis CPU per task over bottleneck's, 4 processes", four.cpuPerTaskUs / rows['bottleneck, 4 processes'].cpuPerTaskUs, 0.1],
    ['fleet vs mock LLM: 429s with one coordinator', told.tooMany, 0],
    ['fleet vs mock LLM: request-limit shortfall with one coordinator', 1 - told.requestShare, 0.05],
  ];
}

function report({ machine, overhead, featureCosts, lazy, memory, memoryN, makespan, idealMakespan, late, size, targets, goodput, limits, limits2x, fleet, profile }) {
  const names = Object.keys(overhead);
  const columns = Object.keys(overhead['p-limit']);
  const rows = names.map(
    (name) => `| ${name} | ${columns.map((key) => (overhead[name][key] === undefined ? '—' : fmt(overhead[name][key]))).join(' | ')} |`,
  );
  const vsLimit = names.map(
    (name) =>
      `| ${name} | ${columns
        .map((key) => (overhead[name][key] === undefined ? '—' : `${fmt(overhead[name][key] / overhead['p-limit'][key], 2)}×`))
        .join(' | ')} |`,
  );
  const header = `| library | ${columns.map((key) => { const [n, c] = key.split('/'); return `N=${Number(n).toExponential(0).replace('+', '')} C=${c}`; }).join(' | ')} |`;
  const rule = `|---|${columns.map(() => '---:').join('|')}|`;
  return `# Benchmarks

Generated by \`npm run bench -- --write\` (bench/run.mjs); every figure below comes from that one run.
Machine: ${machine}. The machine is shared and noisy: compare ratios within this run, not absolute times
across runs.

## Method

- **Overhead**: ns per task to run N trivial tasks (one \`await Promise.resolve()\` and one \`setImmediate\`
  hop) at concurrency C, from the call to the last result, median of 5 rounds (3 at N = 10⁶). In every
  round the libraries run in a fresh random order, after a GC, so drift hits all alike. duta runs with
  \`timeoutMs: Infinity\` (no timers), as the peers have none. bottleneck runs at N = 10⁴ only, once.
- **Memory**: heap bytes per task queued behind one worker that never finishes (C = 1), N = ${fmt(memoryN)},
  after GC, each library in its own process. Task inputs are created before the baseline: only the
  library's own state per queued task counts.
- **Makespan**: 50 tasks of 100 ms at C = 8 against the ideal ⌈N/C⌉×L = ${idealMakespan} ms, median of 3.
- **Timeout precision**: 1000 never-settling tasks, C = 256, \`timeoutMs: 50\`; lateness is each result's
  \`durationMs\` − 50 ms.
- **Size**: each main entry bundled with its dependencies by esbuild, minified, gzip level 9.

## Targets

| target | this run | goal | |
|---|---:|---:|---|
${targets.map(([what, value, target]) => `| ${what} | ${fmt(value, 3)} | ≤ ${target} | ${value <= target ? 'met' : '**missed**'} |`).join('\n')}

## Scheduling overhead (ns per task, lower is better)

${header}
${rule}
${rows.join('\n')}

Relative to raw p-limit in the same run:

${header}
${rule}
${vsLimit.join('\n')}

![Overhead and memory against the peers](bench/chart.svg)

## What each feature costs

ns per task for the same trivial tasks at C = 16, one feature switched on at a time (\`bench/features.mjs\`),
interleaved in random order with raw p-limit and the bare dispatcher, median of the rounds:

| run | ns per task | vs p-limit | vs nothing on |
|---|---:|---:|---:|
${Object.entries(featureCosts)
  .map(([name, ns]) => {
    const base = name.startsWith('submit') || name === '+ async context per submit' ? featureCosts['submit + waitFor'] : featureCosts['dispatch, nothing on'];
    return `| ${name} | ${fmt(ns)} | ${fmt(ns / featureCosts['p-limit'], 2)}× | ${name === 'p-limit' ? '—' : `${fmt(ns / base, 2)}×`} |`;
  })
  .join('\n')}

"Async context per submit" is \`submitContext: true\`; batches always capture their call's context, once.

## Where dispatch's time goes

The overhead case \`duta dispatch\` at N = 10⁵, C = 16 (${profile.rounds} rounds) in a fresh process under V8's
sampling profiler (\`bench/profile.mjs\`; \`node bench/profile.mjs\` prints it alone), self time as shares of
the time spent working. \`accept\` checks each task and builds its job; \`record\` builds each
\`DispatchResult\`, an object of the API; what is left beyond them is promise machinery and the collector,
which the peers pay too.

${profileLines(profile).join('\n')}

${lazyReport(lazy)}
## Memory per queued task

| queued by | bytes per task | vs p-limit |
|---|---:|---:|
${Object.entries(memory).map(([mode, bytes]) => `| ${mode} | ${fmt(bytes)} | ${fmt(bytes / memory['p-limit'], 2)}× |`).join('\n')}

## Makespan and timeouts

- Makespan: ${fmt(makespan, 1)} ms for an ideal ${idealMakespan} ms (${fmt(makespan / idealMakespan, 3)}×).
- Timeout lateness: p50 ${fmt(late.p50, 2)} ms, p99 ${fmt(late.p99, 2)} ms, max ${fmt(late.max, 2)} ms.

## Size (min+gz)

| package | bytes |
|---|---:|
${Object.entries(size).map(([name, bytes]) => `| ${name} | ${fmt(bytes)} |`).join('\n')}

## Against the mock server over real HTTP

The mock server (\`duta/testing\`) answers 429 beyond K = ${goodput.k} requests in flight (Retry-After 5 ms), with
${goodput.latencyMs} ms ± 20 % latency. ${goodput.n} requests over \`fetch\`, retried until they succeed, go through a
dispatcher told \`maxWorkers: ${goodput.k}\` and through one with \`maxWorkers: ${goodput.maxWorkers}, adaptive: true\`, alternating,
median of ${quick ? 1 : 3} rounds. Warm-up is the first quarter of each run's time.

| dispatcher | goodput (requests/s) | 429s after warm-up | final limit |
|---|---:|---:|---:|
| told K exactly | ${fmt(goodput.exact.goodput, 1)} | ${fmt(goodput.exact.rejectedAfterWarmup * 100, 1)} % | ${goodput.exact.limit} |
| adaptive from ${goodput.maxWorkers} | ${fmt(goodput.adaptive.goodput, 1)} | ${fmt(goodput.adaptive.rejectedAfterWarmup * 100, 1)} % | ${goodput.adaptive.limit} |

Adaptive goodput is ${fmt(goodput.ratio * 100, 1)} % of the exact dispatcher's.

**Rate limits.** The server limits ${limits.requestsPerMinute} requests and ${fmt(limits.tokensPerMinute)} tokens per sliding minute, charging
prompt tokens plus \`max_tokens\` at admission, and answers in 200–600 ms; duta is told the same two limits
(default \`burstMs\`) and a \`usageOf\` that counts as the server does, and runs ${limits.windows} minutes under a \`deadline\`,
with more work queued than fits. Time runs ${limits.scale}× faster than the wall clock for both (\`bench/scaled-time.mjs\`),
so a minute takes ${fmt(60 / limits.scale, 0)} s.

| task cost estimates | 429s | share of the request limit | share of the token limit |
|---|---:|---:|---:|
| exact | ${limits.tooMany} | ${fmt(limits.requestShare * 100, 1)} % | ${fmt(limits.tokenShare * 100, 1)} % |
| 2× too high, corrected by usage | ${limits2x.tooMany} | ${fmt(limits2x.requestShare * 100, 1)} % | ${fmt(limits2x.tokenShare * 100, 1)} % |

The token limit binds here. A bucket refills at limit / (60 s + \`burstMs\`), so no minute ever holds more than
the limit; over ${limits.windows} minutes that leaves at most ${fmt((1 - (1_000 + limits.windows * 60_000) / (limits.windows * 61_000)) * 100, 1)} % of it unused.
${fleet === undefined ? '\n## Many processes (duta/redis)\n\nNot measured: redis-server was not on PATH.\n' : fleetReport(fleet)}`;
}

function fleetReport({ redisVersion, seconds, mockSeconds, rows, mock }) {
  const { limits, runs } = mock;
  return `
## Many processes (duta/redis)

Dispatchers in separate processes (\`bench/fleet-child.mjs\`), sharing their limits through one \`redisCoordinator\` on a
private loopback redis-server ${redisVersion} started by the benchmark (\`bench/fleet.mjs\`), against bottleneck 2.19.5's
clustering (\`datastore: 'ioredis'\`, \`clearDatastore: true\`) on the same server in the same run. Each process runs
trivial tasks, 64 at once, for ${seconds} s; duta's are told a fleet cap and request and token rate limits that never
bind, so every admission makes the whole decision. Round trips are counted at the clients (a script call is one;
for bottleneck, every command its ioredis client sends); the server's CPU time is \`INFO cpu\`'s user + system, and its
commands \`INFO commandstats\` (commands a script runs included), between the start and the last process's end.

| fleet | tasks/s | Redis round trips/task | Redis CPU/task | Redis commands/task |
|---|---:|---:|---:|---:|
${Object.entries(rows)
  .map(([name, r]) => `| ${name} | ${fmt(r.perSecond)} | ${fmt(r.tripsPerTask, 3)} | ${fmt(r.cpuPerTaskUs, 1)} µs | ${fmt(r.commandsPerTask, 1)} |`)
  .join('\n')}

duta admits a batch of queued tasks in one script call, carrying the releases of the attempts that ended since the
last one, so round trips per task fall as load rises; bottleneck makes several calls for each job.

**Against the mock LLM server.** Four processes, each with its own dispatcher, start chat requests for ${mockSeconds} s (then finish
those queued) against one mock server that allows ${limits.requestsPerMinute} requests a minute (a sliding window) and ${limits.maxConcurrent} in flight, answering in 200–400 ms;
429s are retried after their Retry-After. Each process is told those limits (\`rateLimit.requestsPerMinute\`, \`maxWorkers\`);
with one coordinator (its \`maxWorkers: ${limits.maxConcurrent}\`) they are the fleet's, without one each process's own.

| fleet | 429s | requests served | share of the request limit | mean in flight (peak) |
|---|---:|---:|---:|---:|
${Object.entries(runs)
  .map(([name, r]) => `| ${name} | ${r.tooMany} | ${r.served} | ${fmt(r.requestShare * 100, 1)} % | ${fmt(r.meanInFlight, 2)} (${r.peakConcurrent}) |`)
  .join('\n')}

The share is served requests over the limit's rate for the run's length; a run shorter than the server's one-minute
window can go past 100 % without a 429, so the contrast is in the 429s.
`;
}
