// The fleet: dispatchers in separate processes sharing their limits through duta/redis, on a private
// loopback redis-server started here. Two measurements:
//   1. Throughput of trivial tasks through coordinated dispatchers, 1 and 4 processes, against
//      bottleneck's Redis clustering on the same server in the same run: tasks a second, Redis round
//      trips per task (counted at the clients) and the Redis server's CPU time per task (INFO cpu).
//   2. A fleet of 4 processes against the mock LLM server, which has a hard request limit and
//      concurrency limit: told the limits through one coordinator, and each on its own for contrast.
// Run on the built package, each process a bench/fleet-child.mjs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { commandCounts, hasRedisServer, REDIS_MISSING, serverCpu, startRedisServer } from './redis-server.mjs';

const CHILD = join(import.meta.dirname, 'fleet-child.mjs');

/** Starts one child per job, waits until all are ready, starts them at once; resolves with their figures. */
async function runChildren(jobs) {
  const children = [];
  for (const job of jobs) {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const { value, done } = await replies.next();
      if (done) {
        throw new Error(`a ${job.kind} process ended early (exit code ${child.exitCode})`);
      }
      return JSON.parse(value);
    };
    // One at a time: bottleneck's first limiter clears the datastore, which must come before the others.
    await next();
    children.push({ child, next });
  }
  return {
    go() {
      for (const { child } of children) {
        child.stdin.write('go\n');
      }
      return Promise.all(children.map(({ next }) => next()));
    },
  };
}

/**
 * Measures one fleet on the shared server: the children's tasks a second (summed), round trips per
 * task, and the server's CPU and commands per task between the start and the last child's end.
 */
async function measure(admin, jobs) {
  const fleet = await runChildren(jobs);
  const cpuBefore = await serverCpu(admin);
  const commandsBefore = await commandCounts(admin);
  const figures = await fleet.go();
  const cpu = (await serverCpu(admin)) - cpuBefore;
  const commandsAfter = await commandCounts(admin);
  const tasks = figures.reduce((sum, f) => sum + f.tasks, 0);
  const seconds = Math.max(...figures.map((f) => f.elapsed));
  const commands = {};
  for (const [name, calls] of Object.entries(commandsAfter)) {
    const delta = calls - (commandsBefore[name] ?? 0);
    // The benchmark's own INFO calls are not the fleet's.
    if (delta > 0 && name !== 'info') {
      commands[name] = delta / tasks;
    }
  }
  return {
    tasks,
    perSecond: tasks / seconds,
    tripsPerTask: figures.reduce((sum, f) => sum + f.roundTrips, 0) / tasks,
    cpuPerTaskUs: (cpu / tasks) * 1e6,
    commandsPerTask: Object.values(commands).reduce((sum, n) => sum + n, 0),
    commands,
  };
}

let fleets = 0;

/** Part 1: duta's coordinated dispatchers against bottleneck's clustering, 1 and 4 processes each. */
async function throughput(port, admin, seconds) {
  const rows = {};
  // What a fleet would be told: a cap on the attempts running fleet-wide and rate limits, none of which
  // binds here, so the figures are the cost of the whole decision. Each process runs 64 at once.
  const common = { port, seconds, maxWorkers: 64, fleetMaxWorkers: 10_000 };
  const duta = { ...common, kind: 'duta', rateLimit: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 }, cost: 10 };
  for (const processes of [1, 4]) {
    const name = `duta-${++fleets}`;
    rows[`duta, ${processes} process${processes > 1 ? 'es' : ''}`] = await measure(admin, Array.from({ length: processes }, () => ({ ...duta, name })));
    const id = `bottleneck-${++fleets}`;
    rows[`bottleneck, ${processes} process${processes > 1 ? 'es' : ''}`] = await measure(
      admin,
      Array.from({ length: processes }, (_, i) => ({ ...common, kind: 'bottleneck', name: id, clear: i === 0 })),
    );
  }
  return rows;
}

/** Part 2: four processes against one mock LLM server with a hard request limit and concurrency limit. */
async function againstMock(port, startMockLlm, seconds) {
  const limits = { requestsPerMinute: 600, maxConcurrent: 4 };
  const runs = {};
  for (const coordinated of [false, true]) {
    const server = await startMockLlm({ ...limits, latencyMs: { min: 200, max: 400 }, concurrencyRetryAfterMs: 200 });
    const name = `llm-${++fleets}`;
    const job = {
      kind: 'llm',
      port,
      name,
      coordinated,
      seconds,
      url: `${server.url}/chat/completions`,
      // Each process is told the provider's limits; only a coordinator makes them the fleet's.
      maxWorkers: limits.maxConcurrent,
      fleetMaxWorkers: limits.maxConcurrent,
      requestsPerMinute: limits.requestsPerMinute,
    };
    const fleet = await runChildren(Array.from({ length: 4 }, () => job));
    // The server's requests in flight, sampled, for the concurrency limit's share.
    let samples = 0;
    let inFlight = 0;
    const sampler = setInterval(() => {
      samples++;
      inFlight += server.stats().inFlight;
    }, 10);
    const started = performance.now();
    const figures = await fleet.go();
    clearInterval(sampler);
    const elapsed = (performance.now() - started) / 1_000;
    const stats = server.stats();
    await server.close();
    const served = stats.byStatus[200] ?? 0;
    runs[coordinated ? 'one coordinator' : 'no coordinator'] = {
      served,
      tooMany: stats.byStatus[429] ?? 0,
      elapsed,
      requestShare: served / ((limits.requestsPerMinute / 60) * elapsed),
      meanInFlight: inFlight / samples,
      peakConcurrent: stats.peakConcurrent,
      failed: figures.reduce((sum, f) => sum + f.failed, 0),
    };
  }
  return { limits, runs };
}

/**
 * Runs both parts; `startMockLlm` is passed in (the built duta/testing). Resolves with undefined when
 * redis-server is missing, after saying so.
 */
export async function measureFleet({ startMockLlm }, { seconds = 3, mockSeconds = 65 } = {}) {
  if (!hasRedisServer()) {
    process.stdout.write(`fleet: skipped. ${REDIS_MISSING}\n`);
    return undefined;
  }
  const redis = await startRedisServer();
  const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
  try {
    const rows = await throughput(redis.port, admin, seconds);
    const mock = await againstMock(redis.port, startMockLlm, mockSeconds);
    return { redisVersion: redis.version, seconds, mockSeconds, rows, mock };
  } finally {
    admin.disconnect();
    redis.stop();
  }
}
