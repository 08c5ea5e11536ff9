// `npm run bench:records`: what the fleet's task records cost, on a private loopback redis-server.
// Not part of `npm test`. Run through tsx (it imports duta's TypeScript source).
//
// 1. Redis commands per submitted task. A dispatcher with a coordinator runs tasks of 5 ms; INFO
//    commandstats is reset before each case and read after it. Redis counts a script call
//    (EVALSHA, or EVAL when it had lost the script) and, separately, every command the script runs
//    (HSET, PEXPIRE, TIME, ...): both are printed, per task, with the busiest commands. Cases: 1,000
//    tasks submitted at once (a busy instance: one call carries many records and releases), the same
//    1,000 as one `dispatch` batch (not recorded: the difference is what the records cost), and 200
//    tasks submitted one after the other, each awaited (a quiet instance: nothing to share a call with).
// 2. From a result's write to a remote waitFor resolving. An owner dispatcher runs 200 tasks of 100 to
//    900 ms, 20 at a time; a second dispatcher, with its own connection, waits for all 200 through the
//    records. A MONITOR connection gives the server's time of the call that wrote each result (the
//    arguments carry the result's JSON, with its taskId); the waiter notes the wall-clock time its
//    waitFor resolved (performance.timeOrigin + performance.now(): the same clock as Redis's on one
//    machine). Both dispatchers live in this process, but share nothing but the server.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg, cpus } from 'node:os';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { Dispatcher } from '../src/index.ts';
import { redisCoordinator } from '../src/redis/index.ts';

const log = (line = '') => process.stdout.write(`${line}\n`);
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
redis.once('error', (error) => {
  console.error(`could not start redis-server (${error.message}): install it with \`apt install redis-server\` or \`brew install redis\``);
  process.exit(1);
});
// However the run ends, the server goes with it.
process.on('exit', () => redis.kill('SIGKILL'));
await new Promise((resolve) => redis.stdout.on('data', (chunk) => chunk.toString().includes('Ready to accept connections') && resolve()));

const admin = new Redis({ port, host: '127.0.0.1' });
const connections = [];
const families = {
  ioredis: async () => {
    const client = new Redis({ port, host: '127.0.0.1' });
    await client.ping();
    connections.push(() => client.disconnect());
    return client;
  },
  'node-redis': async () => {
    const client = createClient({ socket: { port, host: '127.0.0.1' } });
    await client.connect();
    connections.push(() => client.destroy());
    return client;
  },
};

/** Calls per command since the last CONFIG RESETSTAT, without the bench's own INFO and CONFIG. */
async function commandStats() {
  const calls = new Map();
  for (const [, name, count] of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!name.startsWith('info') && !name.startsWith('config')) {
      calls.set(name, Number(count));
    }
  }
  return calls;
}

let fleets = 0;
async function dispatcher(family, maxWorkers) {
  const client = await families[family]();
  return new Dispatcher({ maxWorkers, coordinator: redisCoordinator({ client, name: `bench-${++fleets}` }) });
}

const task = (i) => ({ id: `task-${i}`, func: async () => (await sleep(5), { summary: `summary ${i}`, tokens: 42 }) });

/** Runs `work` and says what Redis ran for it, per task. */
async function count(label, tasks, work) {
  await admin.config('RESETSTAT');
  await work();
  const calls = await commandStats();
  const scripts = (calls.get('evalsha') ?? 0) + (calls.get('eval') ?? 0);
  const inner = [...calls].filter(([name]) => name !== 'evalsha' && name !== 'eval');
  const innerTotal = inner.reduce((sum, [, n]) => sum + n, 0);
  const top = inner
    .sort((x, y) => y[1] - x[1])
    .slice(0, 6)
    .map(([name, n]) => `${name.toUpperCase()} ${fmt(n / tasks, 2)}`)
    .join(', ');
  log(`| ${label} | ${fmt(tasks)} | ${fmt(scripts / tasks, 3)} | ${fmt(innerTotal / tasks, 1)} | ${top} |`);
}

log(`redis-server ${(await admin.info('server')).match(/redis_version:(\S+)/)[1]} on loopback, Node ${process.version}, ${cpus().length} cores, load ${loadavg().map((n) => n.toFixed(1)).join(' ')}\n`);

// Scripts loaded once, so no case pays for a NOSCRIPT and an EVAL.
{
  const warm = await dispatcher('ioredis', 4);
  warm.submit(task('warm'));
  await warm.waitFor('task-warm');
  await warm.flush();
  await warm.lookup('nothing');
}

log('Redis commands per task (INFO commandstats; a script call and the commands it runs are counted apart)\n');
log('| case | tasks | script calls/task | commands run by scripts/task | most run, per task |');
log('|---|---:|---:|---:|---|');
{
  const d = await dispatcher('ioredis', 16);
  await count('submit, 1,000 at once, maxWorkers 16', 1_000, async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => d.submit(task(i)));
    await Promise.all(ids.map((id) => d.waitFor(id)));
    await d.flush();
  });
}
{
  const d = await dispatcher('ioredis', 16);
  await count('dispatch (not recorded), 1,000, maxWorkers 16', 1_000, async () => {
    await d.dispatch(Array.from({ length: 1_000 }, (_, i) => task(i)));
    await d.flush();
  });
}
{
  const d = await dispatcher('ioredis', 16);
  await count('submit, 200 one after the other', 200, async () => {
    for (let i = 0; i < 200; i++) {
      await d.waitFor(d.submit(task(i)));
    }
    await d.flush();
  });
}

log('\nFrom a result written to Redis to a waitFor on another dispatcher resolving (200 tasks of 100-900 ms, 20 at a time)\n');
// monitor() opens a connection of its own: the client it was asked of is closed at once.
const monitorOf = new Redis({ port, host: '127.0.0.1' });
const monitor = await monitorOf.monitor();
monitorOf.disconnect();
const written = new Map();
monitor.on('monitor', (time, args) => {
  if (!/^eval/i.test(args[0] ?? '')) {
    return;
  }
  for (const arg of args) {
    // MONITOR's quoting of nested quotes is not JSON: the id is read from the start of the text alone.
    const taskId = /^\{"taskId":"([^"\\]+)"/.exec(arg)?.[1];
    if (taskId !== undefined) {
      if (!written.has(taskId)) {
        written.set(taskId, Number(time) * 1_000);
      }
    }
  }
});
const wallNow = () => performance.timeOrigin + performance.now();
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
// A fixed sequence of durations, the same for each client.
const duration = (i) => 100 + ((i * 7_919) % 800);

log("| client | median | p95 | max | waiter's Redis calls: a first look per waitFor + polls for all |");
log('|---|---:|---:|---:|---:|');
for (const family of Object.keys(families)) {
  const name = `latency-${family}`;
  const owner = new Dispatcher({ maxWorkers: 20, coordinator: redisCoordinator({ client: await families[family](), name }) });
  const waiterCoordinator = redisCoordinator({ client: await families[family](), name });
  const waiter = new Dispatcher({ coordinator: waiterCoordinator });
  written.clear();
  const ids = Array.from({ length: 200 }, (_, i) =>
    owner.submit({ id: `${family}-${i}`, func: async () => (await sleep(duration(i)), `result ${i}`) }),
  );
  await owner.flush();
  const callsBefore = waiterCoordinator.roundTrips;
  const resolvedAt = new Map();
  await Promise.all(ids.map((id) => waiter.waitFor(id).then(() => resolvedAt.set(id, wallNow()))));
  const calls = waiterCoordinator.roundTrips - callsBefore;
  // MONITOR's stream may trail the replies a little.
  await sleep(100);
  const latencies = ids.map((id) => resolvedAt.get(id) - written.get(id)).sort((x, y) => x - y);
  if (latencies.some((ms) => !Number.isFinite(ms))) {
    throw new Error('a result was not seen written by MONITOR');
  }
  log(`| ${family} | ${fmt(quantile(latencies, 0.5), 1)} ms | ${fmt(quantile(latencies, 0.95), 1)} ms | ${fmt(latencies.at(-1), 1)} ms | ${fmt(ids.length)} + ${fmt(calls - ids.length)} |`);
}

monitor.disconnect();
for (const close of connections) {
  close();
}
admin.disconnect();
redis.kill('SIGKILL');
