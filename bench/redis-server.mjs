// A private redis-server for a benchmark or the fleet demo: on a free loopback port, no persistence,
// killed when this process exits however it exits. Also the server's CPU time and command counts,
// which is what a benchmark charges per task.
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const REDIS_MISSING =
  'redis-server is not on PATH. Install it: `apt install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS), then run this again.';

export function hasRedisServer() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on a free port; resolves with `{ port, version, stop() }` once it accepts connections. */
export async function startRedisServer() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.on('exit', stop);
  let out = '';
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve();
      }
    });
  });
  child.removeAllListeners('exit');
  const version = /version=([\d.]+)/.exec(out)?.[1] ?? 'unknown';
  return { port, version, pid: child.pid, stop };
}

/** The server's CPU seconds so far (user + system), from INFO cpu, read through an ioredis client. */
export async function serverCpu(admin) {
  const info = await admin.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Calls per command so far, from INFO commandstats: `{ evalsha: 120, zadd: 95, … }`. */
export async function commandCounts(admin) {
  const info = await admin.info('commandstats');
  const counts = {};
  for (const [, name, calls] of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    counts[name] = Number(calls);
  }
  return counts;
}
