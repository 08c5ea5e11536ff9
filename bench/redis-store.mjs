// `npm run bench:redis [-- --quick]`: the fleet store's admission path on a private loopback
// redis-server: tasks admitted a second for batches of 1, 8 and 32 candidates, from one caller and
// from 4 callers at once (as 4 instances would be), with each call also releasing the previous batch
// (the steady state of a busy instance); Redis round trips per task, counted at the client; and the
// Redis server's CPU time per task, from INFO cpu before and after. For scale, in the same run: the
// floor (a script that does nothing, once per call) and bottleneck's Redis clustering running trivial
// jobs (its own three-scripts-a-job path). Not part of `npm test`.
// Run through tsx (the script imports the store's TypeScript source).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisLink } from '../src/redis/client.ts';
import { FleetStore } from '../src/redis/store.ts';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 1 : 3;
const log = (line) => process.stdout.write(`${line}\n`);
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
// However the run ends, the server goes with it.
process.on('exit', () => redis.kill('SIGKILL'));
await new Promise((resolve, reject) => {
  redis.once('error', reject);
  redis.stdout.on('data', (chunk) => chunk.toString().includes('Ready to accept connections') && resolve());
});

const admin = new Redis({ port, host: '127.0.0.1' });
/** The server's CPU seconds so far (user + system). */
async function serverCpu() {
  const info = await admin.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

const clients = {
  ioredis: async () => {
    const client = new Redis({ port, host: '127.0.0.1' });
    await client.ping();
    return { client, close: () => client.disconnect() };
  },
  'node-redis': async () => {
    const client = createClient({ socket: { port, host: '127.0.0.1' } });
    await client.connect();
    return { client, close: () => client.destroy() };
  },
};

// Limits that apply in full (every bucket, a key's own, the budget, the fleet cap) but never refuse:
// the figures are the cost of the whole decision.
const limits = {
  maxWorkers: 100_000,
  leaseMs: 30_000,
  rateLimit: { requestsPerSecond: 1e7, tokensPerMinute: 1e12, byKey: { a: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 } } },
  budget: { tokens: 1e15, requests: 1e12 },
};

let run = 0;
/** Tasks a second, round trips per task and server CPU (µs) per task for one client, batch size and caller count. */
async function measure(clientName, batch, callers) {
  const connections = await Promise.all(Array.from({ length: callers }, () => clients[clientName]()));
  const name = `bench-${++run}`;
  const links = connections.map(({ client }) => new RedisLink(client));
  const stores = links.map((link) => new FleetStore(link, name, limits));
  const roundTrips = () => links.reduce((sum, link) => sum + link.roundTrips, 0);
  // Load the scripts before counting.
  await Promise.all(stores.map((store) => store.admit([], [])));
  const tripsBefore = roundTrips();
  const cpuBefore = await serverCpu();
  let tasks = 0;
  const until = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  await Promise.all(
    stores.map(async (store) => {
      let previous = [];
      while (performance.now() < until) {
        const candidates = Array.from({ length: batch }, (_, i) => ({ lease: store.lease(), key: i % 2 === 0 ? 'a' : '', cost: 100 }));
        const answer = await store.admit(
          previous.map((candidate) => ({ ...candidate, used: 90 })),
          candidates,
        );
        previous = candidates.filter((_, i) => answer.admitted[i]);
        tasks += previous.length;
      }
      await store.admit(previous.map((candidate) => ({ ...candidate, used: 90 })), []);
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const cpu = (await serverCpu()) - cpuBefore;
  const trips = roundTrips() - tripsBefore;
  for (const { close } of connections) {
    close();
  }
  return { perSecond: tasks / elapsed, tripsPerTask: trips / tasks, cpuPerTaskUs: (cpu / tasks) * 1e6 };
}

/** The floor on this machine now: one trivial script call per task, in a loop from one caller. */
async function floor() {
  const client = new Redis({ port, host: '127.0.0.1' });
  const sha = await client.script('LOAD', 'return 1');
  const cpuBefore = await serverCpu();
  let calls = 0;
  const until = performance.now() + SECONDS * 1_000;
  while (performance.now() < until) {
    await client.evalsha(sha, 0);
    calls++;
  }
  const cpu = (await serverCpu()) - cpuBefore;
  client.disconnect();
  return { perSecond: calls / SECONDS, cpuPerCallUs: (cpu / calls) * 1e6 };
}

log(`redis-server ${(await admin.info('server')).match(/redis_version:(\S+)/)[1]} on loopback, Node ${process.version}, ${SECONDS} s a case\n`);
const base = await floor();
log(`floor: EVALSHA of \`return 1\` in a loop: ${fmt(base.perSecond)} calls/s, ${fmt(base.cpuPerCallUs, 1)} µs of Redis CPU a call\n`);
/** bottleneck's clustering on the same server: trivial jobs, `callers` limiters of one id, as many at once as it takes. */
async function bottleneck(callers) {
  let commands = 0;
  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (...args) {
    commands++;
    return send.apply(this, args);
  };
  const id = `bottleneck-${++run}`;
  const limiters = Array.from(
    { length: callers },
    (_, i) => new Bottleneck({ id, datastore: 'ioredis', clearDatastore: i === 0, clientOptions: { port, host: '127.0.0.1' }, maxConcurrent: 100_000 }),
  );
  await Promise.all(limiters.map((limiter) => limiter.ready()));
  const commandsBefore = commands;
  const cpuBefore = await serverCpu();
  let tasks = 0;
  const until = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  await Promise.all(
    limiters.flatMap((limiter) =>
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          await limiter.schedule(() => Promise.resolve());
          tasks++;
        }
      }),
    ),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const cpu = (await serverCpu()) - cpuBefore;
  const trips = commands - commandsBefore;
  Redis.prototype.sendCommand = send;
  await Promise.all(limiters.map((limiter) => limiter.disconnect(false)));
  return { perSecond: tasks / elapsed, tripsPerTask: trips / tasks, cpuPerTaskUs: (cpu / tasks) * 1e6 };
}

log('| client | callers | batch | tasks/s | round trips/task | Redis CPU/task |');
log('|---|---:|---:|---:|---:|---:|');
for (const clientName of Object.keys(clients)) {
  for (const callers of [1, 4]) {
    for (const batch of [1, 8, 32]) {
      const r = await measure(clientName, batch, callers);
      log(`| ${clientName} | ${callers} | ${batch} | ${fmt(r.perSecond)} | ${fmt(r.tripsPerTask, 3)} | ${fmt(r.cpuPerTaskUs, 1)} µs |`);
    }
  }
}
for (const callers of [1, 4]) {
  const r = await bottleneck(callers);
  log(`| bottleneck (ioredis) | ${callers} | 8 jobs in flight each | ${fmt(r.perSecond)} | ${fmt(r.tripsPerTask, 1)} | ${fmt(r.cpuPerTaskUs, 1)} µs |`);
}
admin.disconnect();
redis.kill('SIGKILL');
