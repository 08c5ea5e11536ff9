/**
 * A private redis-server per test file, on a free loopback port, that a test can freeze (SIGSTOP),
 * thaw (SIGCONT), kill (SIGKILL) and start again on the same port. Without redis-server on PATH the
 * suites are skipped (and loudly reported by global-setup.mjs), unless DUTA_REQUIRE_REDIS=1 (CI), where
 * they fail.
 */
import { closeIoredis } from './clients.js';
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_MISSING =
  'redis-server is not on PATH, so the duta/redis tests cannot run. Install it: `apt install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS).';

export const hasRedis: boolean = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** `describe` for tests that need a real Redis: skipped without one, failed without one in CI. */
export function describeRedis(title: string, body: () => void): void {
  if (hasRedis) {
    describe(title, body);
  } else if (process.env['DUTA_REQUIRE_REDIS'] === '1') {
    describe(title, () => {
      test('needs redis-server on PATH (DUTA_REQUIRE_REDIS=1)', () => {
        throw new Error(REDIS_MISSING);
      });
    });
  } else {
    describe.skip(title, body);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RedisServerOptions {
  /**
   * A one-node Redis Cluster holding all 16384 slots: commands are checked as on any cluster (a
   * script whose keys are in two slots fails with CROSSSLOT) and cluster clients can connect to it.
   */
  readonly cluster?: boolean;
}

export class RedisServer {
  #child: ChildProcess | undefined;
  /** Where a cluster node keeps its nodes.conf. */
  #dir: string | undefined;
  /** Stops treating the server's exit as a failure to start. */
  #stopWatching = (): void => {};

  private constructor(
    readonly port: number,
    readonly options: RedisServerOptions,
  ) {}

  /** Starts a server on a free port (trying another if the port was taken meanwhile). */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), options);
      try {
        await server.restart();
        if (options.cluster === true) {
          await server.#takeAllSlots();
        }
        return server;
      } catch (error) {
        if (attempt === 3) {
          throw error;
        }
      }
    }
  }

  /** Makes the node a cluster of its own: all slots assigned to it, and waits for the cluster to be up. */
  async #takeAllSlots(): Promise<void> {
    const admin = new Redis({ port: this.port, host: '127.0.0.1' });
    try {
      await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      for (let waited = 0; !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); waited += 20) {
        if (waited > 5_000) {
          throw new Error(`the one-node cluster on port ${this.port} did not come up in 5 s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await closeIoredis(admin);
    }
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the server (again) on its port and resolves once it accepts connections. */
  restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.options.cluster === true) {
      this.#dir ??= mkdtempSync(join(tmpdir(), 'duta-redis-'));
      args.push('--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--dir', this.#dir);
    }
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Should the test process end without its afterAll (a crash, a forced exit), its servers end too.
    const orphaned = (): void => void child.kill('SIGKILL');
    process.once('exit', orphaned);
    child.once('exit', () => process.off('exit', orphaned));
    this.#child = child;
    RedisServer.#all.add(this);
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`redis-server on port ${this.port} did not start in 5 s: ${out}`)), 5_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.removeAllListeners('data');
          child.stdout?.resume();
          resolve();
        }
      });
      const early = (code: number | null): void => fail(new Error(`redis-server on port ${this.port} exited with ${code}: ${out}`));
      child.once('exit', early);
      this.#stopWatching = () => child.off('exit', early);
    });
  }

  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  /** SIGKILL, as a crash or an OOM kill: no shutdown, the script cache and the data lost. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    this.#stopWatching();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  static readonly #all = new Set<RedisServer>();

  /** Kills every server this file started. */
  static async killAll(): Promise<void> {
    await Promise.all([...RedisServer.#all].map((server) => server.kill()));
    for (const server of RedisServer.#all) {
      if (server.#dir !== undefined) {
        rmSync(server.#dir, { recursive: true, force: true });
      }
    }
    RedisServer.#all.clear();
  }
}

/** A server for the enclosing describe: started in beforeAll, killed in afterAll. */
export function useRedisServer(options: RedisServerOptions = {}): { readonly server: RedisServer } {
  const handle = {} as { server: RedisServer };
  beforeAll(async () => {
    handle.server = await RedisServer.start(options);
  });
  afterAll(() => RedisServer.killAll());
  return handle;
}
