/**
 * `npm run demo:fleet`: four instances of one service, each its own process with its own Dispatcher,
 * call one LLM provider (duta's mock server) that allows 4 requests in flight and 480 a minute. Each
 * instance is told those limits. First each keeps them to itself, as separate serverless copies do:
 * together they send four times too much and the provider answers 429 after 429. Then the same four
 * share them through Redis with duta/redis's coordinator. Needs redis-server on PATH: it starts a private
 * one on a free port and stops it at the end.
 */
import { type MockLlm, startMockLlm } from 'duta/testing';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Progress, Run } from './instance.js';

const INSTANCES = 4;
const TASKS = 20;
const LIMITS = { maxConcurrent: 4, requestsPerMinute: 480 };

function redisServerMissing(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}

if (redisServerMissing()) {
  console.error(
    'This demo needs redis-server on PATH (it starts a private one on a free port, and stops it at the end).\n' +
      'Install it, then run `npm run demo:fleet` again:\n' +
      '  Debian, Ubuntu:  sudo apt install redis-server\n' +
      '  macOS:           brew install redis\n' +
      '  Fedora:          sudo dnf install redis',
  );
  process.exit(1);
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });

/** A private redis-server, gone with this process however it ends. */
async function startRedis(): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = (): void => void child.kill('SIGKILL');
  process.on('exit', stop);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout!.removeAllListeners('data').resume();
        child.removeAllListeners('exit');
        resolve();
      }
    });
  });
  return { port, stop };
}

/** One instance: a child process running instance.ts through tsx, with this demo's tsconfig (so `duta` is the source). */
interface Instance {
  readonly child: ChildProcess;
  progress: Progress;
  /** Resolves with the instance's last report of a run. */
  run(run: Run): Promise<void>;
}

async function startInstance(redisPort: number): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'instance.ts'), String(redisPort)], {
    env: { ...process.env, TSX_TSCONFIG_PATH: join(import.meta.dirname, '..', 'tsconfig.json') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  let onFinished: (() => void) | undefined;
  const instance: Instance = {
    child,
    progress: { done: 0, failed: 0, tooMany: 0, finished: false },
    run(run) {
      instance.progress = { done: 0, failed: 0, tooMany: 0, finished: false };
      child.stdin!.write(`${JSON.stringify(run)}\n`);
      return new Promise((resolve) => (onFinished = resolve));
    },
  };
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`an instance exited with ${code} before it was ready`)));
    lines.once('line', () => resolve());
  });
  child.removeAllListeners('exit');
  lines.on('line', (line) => {
    instance.progress = JSON.parse(line) as Progress;
    if (instance.progress.finished) {
      onFinished?.();
    }
  });
  return instance;
}

const tty = process.stdout.isTTY === true;

/** Draws each instance's bar and the server's counts, in place on a terminal; on a pipe, only the end. */
function board(title: string, instances: readonly Instance[], server: MockLlm): { draw(final?: boolean): void } {
  const started = performance.now();
  let drawn = 0;
  return {
    draw(final = false) {
      if (!tty && !final) {
        return;
      }
      const rows = instances.map(({ progress }, i) => {
        const width = 30;
        const filled = Math.round(((progress.done + progress.failed) / TASKS) * width);
        const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
        return `  instance ${i + 1}  [${bar}] ${String(progress.done).padStart(2)}/${TASKS} done   429s answered to it: ${progress.tooMany}`;
      });
      const stats = server.stats();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      rows.push(
        `  provider: ${stats.requests} requests received, ${stats.byStatus['200'] ?? 0} answered, ${stats.byStatus['429'] ?? 0} × 429, ` +
          `${stats.inFlight} in flight now (most at once: ${stats.peakConcurrent}, limit ${LIMITS.maxConcurrent})   ${seconds} s`,
      );
      // On a terminal the board is drawn over itself: up to its first row, each row cleared to its end.
      const up = tty && drawn > 0 ? `\x1b[${drawn}A` : '';
      const clear = tty ? '\x1b[K' : '';
      process.stdout.write(`${up}${drawn === 0 ? `${title}\n` : ''}${rows.map((row) => `${row}${clear}`).join('\n')}\n`);
      drawn = rows.length;
    },
  };
}

async function phase(title: string, instances: readonly Instance[], redisPort: number, fleet: string | null): Promise<{ seconds: number; tooMany: number }> {
  const server = await startMockLlm({ ...LIMITS, latencyMs: { min: 300, max: 700 }, concurrencyRetryAfterMs: 1_000 });
  const view = board(title, instances, server);
  const timer = setInterval(() => view.draw(), 100);
  const started = performance.now();
  const run: Run = { url: server.url, redisPort, fleet, tasks: TASKS, ...LIMITS };
  await Promise.all(instances.map((instance) => instance.run(run)));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  view.draw(true);
  const tooMany = server.stats().byStatus['429'] ?? 0;
  await server.close();
  return { seconds, tooMany };
}

console.log(
  `duta fleet demo: ${INSTANCES} instances (separate processes), ${TASKS} chat requests each, against one provider that allows\n` +
    `${LIMITS.maxConcurrent} requests in flight and ${LIMITS.requestsPerMinute} a minute; every instance is told those limits. Starting redis-server and the instances…\n`,
);
const redis = await startRedis();
const instances = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(redis.port)));
try {
  const alone = await phase('1. Each instance keeps the limits to itself (no coordinator):', instances, redis.port, null);
  console.log();
  const shared = await phase("2. The same instances share them through Redis (redisCoordinator, one name):", instances, redis.port, 'demo-fleet');
  console.log(
    `\nAlone: ${alone.tooMany} requests answered 429, and each 429 held its instance back for the Retry-After: ${alone.seconds.toFixed(1)} s.\n` +
      `Shared: ${shared.tooMany} answered 429, ${shared.seconds.toFixed(1)} s. The provider saw one client keeping its limits, not four.`,
  );
} finally {
  for (const { child } of instances) {
    child.stdin!.end();
  }
  redis.stop();
}
