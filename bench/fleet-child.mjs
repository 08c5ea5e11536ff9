// One process of bench/fleet.mjs's fleets, run on the built package. Argument: a JSON job. It sets up
// (connects, loads the scripts), writes `{"ready":true}`, starts on a line on stdin, and writes its
// figures as one JSON line when done. Kinds:
//   duta:       trivial tasks through a Dispatcher with a redisCoordinator, for `seconds`
//   bottleneck: trivial jobs through a Bottleneck limiter clustered on Redis (ioredis), for `seconds`
//   llm:        chat requests to the mock LLM server through a Dispatcher, with or without a coordinator
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { createInterface } from 'node:readline';
import { Dispatcher } from '../dist/esm/index.js';
import { redisCoordinator } from '../dist/esm/redis/index.js';

const job = JSON.parse(process.argv[2]);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const go = async () => {
  say({ ready: true });
  await lines.next();
};

/** Tasks of `make(i)` for as long as the run lasts: the dispatcher reads them only as slots free. */
function* until(end, make) {
  for (let i = 0; performance.now() < end; i++) {
    yield make(i);
  }
}

async function duta() {
  const client = new Redis({ port: job.port, host: '127.0.0.1' });
  const coordinator = redisCoordinator({ client, name: job.name, maxWorkers: job.fleetMaxWorkers });
  const d = new Dispatcher({ maxWorkers: job.maxWorkers, timeoutMs: Infinity, coordinator, rateLimit: job.rateLimit });
  const trivial = () => Promise.resolve();
  // Scripts loaded and the fleet's keys made before the clock starts.
  await d.dispatch([{ id: 'warm-up', func: trivial }]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const tripsBefore = coordinator.roundTrips;
  await go();
  const started = performance.now();
  const results = await d.dispatch(until(started + job.seconds * 1_000, (i) => ({ id: `t${i}`, cost: job.cost, func: trivial })));
  const elapsed = (performance.now() - started) / 1_000;
  // The last releases go out on their own call, before shutdown() resolves.
  await d.shutdown();
  say({ tasks: results.filter((r) => r.success).length, elapsed, roundTrips: coordinator.roundTrips - tripsBefore });
  client.disconnect();
}

async function bottleneck() {
  let commands = 0;
  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function (...args) {
    commands++;
    return send.apply(this, args);
  };
  const limiter = new Bottleneck({
    id: job.name,
    datastore: 'ioredis',
    clearDatastore: job.clear,
    clientOptions: { port: job.port, host: '127.0.0.1' },
    maxConcurrent: job.fleetMaxWorkers,
  });
  await limiter.ready();
  await limiter.schedule(() => Promise.resolve());
  const commandsBefore = commands;
  await go();
  const started = performance.now();
  const end = started + job.seconds * 1_000;
  let tasks = 0;
  // As many jobs in flight as the dispatcher's maxWorkers: each loop waits for its job, then sends the next.
  await Promise.all(
    Array.from({ length: job.maxWorkers }, async () => {
      while (performance.now() < end) {
        await limiter.schedule(() => Promise.resolve());
        tasks++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  say({ tasks, elapsed, roundTrips: commands - commandsBefore });
  await limiter.disconnect(false);
}

async function llm() {
  const client = job.coordinated ? new Redis({ port: job.port, host: '127.0.0.1' }) : undefined;
  const coordinator = client && redisCoordinator({ client, name: job.name, maxWorkers: job.fleetMaxWorkers });
  const d = new Dispatcher({
    maxWorkers: job.maxWorkers,
    rateLimit: { requestsPerMinute: job.requestsPerMinute },
    retry: { retries: 20, minDelayMs: 50, maxDelayMs: 60_000 },
    ...(coordinator && { coordinator }),
  });
  let tooMany = 0;
  const call = async (i, { signal }) => {
    const response = await fetch(job.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: `q${i}` }], max_tokens: 8 }),
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      tooMany += response.status === 429 ? 1 : 0;
      throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, headers: response.headers });
    }
    return response.json();
  };
  await go();
  const started = performance.now();
  const results = await d.dispatch(until(started + job.seconds * 1_000, (i) => ({ id: `q${i}`, func: (ctx) => call(i, ctx) })));
  say({ done: results.filter((r) => r.success).length, failed: results.filter((r) => !r.success).length, tooMany, elapsed: (performance.now() - started) / 1_000 });
  // Before the client closes: the fleet slots of the last attempts are given back.
  await d.shutdown();
  client?.disconnect();
}

await { duta, bottleneck, llm }[job.kind]();
process.exit(0);
