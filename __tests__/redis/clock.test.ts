/**
 * Redis's clock is the only clock: instances whose clocks are minutes apart share the leases and the
 * buckets exactly. Two child processes with clocks 7 minutes slow and 7 minutes fast, and this process,
 * admit against the same fleets; MONITOR records what the server received, from whom.
 */
import { closeIoredis } from './clients.js';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { createClient } from 'redis';
import { RedisLink } from '../../src/redis/client.js';
import { FleetStore } from '../../src/redis/store.js';
import { describeRedis, useRedisServer } from './server.js';

const MINUTES_7 = 7 * 60_000;

describeRedis('Redis time only', () => {
  const redis = useRedisServer();
  let source: Redis;
  let monitor: Redis;
  const seen: { source: string; args: string[] }[] = [];
  let parent: ReturnType<typeof createClient>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    source = new Redis({ port: redis.server.port, host: '127.0.0.1' });
    monitor = await source.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (/^eval/i.test(args[0] ?? '')) {
        seen.push({ source, args });
      }
    });
    parent = createClient({ socket: { port: redis.server.port, host: '127.0.0.1' } });
    parent.on('error', () => {});
    await parent.connect();
  });
  afterAll(async () => {
    await closeIoredis(monitor);
    // The client MONITOR was asked of stays connected on its own: it is closed too.
    await closeIoredis(source);
    parent.destroy();
    for (const child of children) {
      child.kill();
    }
  });

  /** An instance in a child process, its clock `skewMs` off, started and ready. */
  async function instance(skewMs: number): Promise<{ ask(fleet: string, count: number): Promise<{ clock: number; admitted: boolean[] }>; stop(): void }> {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'fixtures', 'skewed-instance.ts'), String(redis.server.port), 'clock'], {
      env: { ...process.env, SKEW_MS: String(skewMs) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines: Interface = createInterface({ input: child.stdout! });
    const replies = lines[Symbol.asyncIterator]();
    const next = async (): Promise<unknown> => JSON.parse(String((await replies.next()).value));
    expect(await next()).toEqual({ ready: true });
    return {
      async ask(fleet, count) {
        child.stdin!.write(`${fleet} ${count}\n`);
        return (await next()) as { clock: number; admitted: boolean[] };
      },
      stop: () => child.stdin!.end(),
    };
  }

  test('instances with clocks 7 minutes apart share leases and buckets as one', async () => {
    const link = new RedisLink(parent);
    const slots = new FleetStore(link, 'clock-slots', { maxWorkers: 4, leaseMs: 1_500 });
    // Capacity 6, refilled one request a second.
    const rate = new FleetStore(link, 'clock-rate', { rateLimit: { requestsPerMinute: 66, burstMs: 6_000 } });
    const ask = (store: FleetStore, count: number) => Array.from({ length: count }, () => ({ lease: store.lease(), key: '', cost: 0 }));

    const [slow, fast] = await Promise.all([instance(-MINUTES_7), instance(MINUTES_7)]);
    const slowSlots = await slow.ask('slots', 4);
    const slowDone = performance.now();
    expect(Math.abs(slowSlots.clock + MINUTES_7 - Date.now())).toBeLessThan(10_000);
    expect(slowSlots.admitted).toEqual([true, true, true, true]);
    expect((await slow.ask('rate', 4)).admitted).toEqual([true, true, true, true]);

    // By its own clock the slow instance's leases ended 7 minutes ago, and its bucket was last touched
    // 7 minutes ago (full again); by Redis's, the leases run and the bucket holds 2 and a little refill.
    const mine = await slots.admit([], ask(slots, 1));
    expect(mine.admitted).toEqual([false]);
    expect(mine.blocked).toBe('slots');
    expect((await rate.admit([], ask(rate, 6))).admitted).toEqual([true, true, false, false, false, false]);

    // By the fast instance's clock the slow one's leases ended 7 minutes ago too. They did not; and the
    // bucket it finds is empty, not 14 minutes refilled.
    const fastSlots = await fast.ask('slots', 1);
    expect(Math.abs(fastSlots.clock - MINUTES_7 - Date.now())).toBeLessThan(10_000);
    expect(fastSlots.admitted).toEqual([false]);
    expect((await fast.ask('rate', 1)).admitted).toEqual([false]);
    slow.stop();
    fast.stop();

    // Once the leases run out by Redis's clock (1.5 s after the slow instance's call), they are free.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_600 - (performance.now() - slowDone))));
    expect((await slots.admit([], ask(slots, 4))).admitted).toEqual([true, true, true, true]);

    // The server saw scripts from three connections, and no argument was anyone's clock.
    expect(new Set(seen.map((call) => call.source)).size).toBe(3);
    const clocks = [Date.now(), Date.now() - MINUTES_7, Date.now() + MINUTES_7];
    const timeLike = seen.flatMap((call) => call.args).filter((arg) => {
      const n = Number(arg);
      return clocks.some((clock) => Math.abs(n - clock) < 3_600_000 || Math.abs(n - clock / 1_000) < 3_600);
    });
    expect(timeLike).toEqual([]);
  }, 20_000);
});
