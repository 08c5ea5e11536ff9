import { afterEach, expect, test } from '@jest/globals';
import { Dispatcher, type DispatcherEvents, type TaskContext } from '../../src/index.js';
import { redisCoordinator } from '../../src/redis/index.js';
import { deferred, until } from '../helpers.js';
import { CLIENTS, type Connected, LATEST_CLIENTS } from './clients.js';
import { describeRedis, useRedisServer } from './server.js';

// Several dispatchers in one process, each with its own coordinator object of the same name: as far as
// the fleet is concerned they are separate instances. The tests with real processes are in fleet.test.ts.
describeRedis('redisCoordinator in one process', () => {
  const redis = useRedisServer();
  const open: Connected[] = [];
  afterEach(async () => {
    for (const connection of open.splice(0)) {
      await connection.close();
    }
  });

  const [ioredis, nodeRedis] = LATEST_CLIENTS as [(typeof CLIENTS)[number], (typeof CLIENTS)[number]];
  let fleet = 0;
  /** A fresh fleet name per test, so tests share no state in the one server. */
  const nextName = (): string => `fleet-${++fleet}-${Date.now()}`;

  for (const kind of CLIENTS) {
    test(`${kind.name}: the coordinator's maxWorkers caps the attempts running across every dispatcher of the name`, async () => {
      const name = nextName();
      const dispatchers = await Promise.all(
        [0, 1, 2].map(async () => {
          const connection = await kind.connect(redis.server.port);
          open.push(connection);
          return new Dispatcher({ maxWorkers: 8, coordinator: redisCoordinator({ client: connection.client, name, maxWorkers: 3 }) });
        }),
      );
      let running = 0;
      let most = 0;
      const func = async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 15));
        running--;
      };
      const results = await Promise.all(dispatchers.map((d, i) => d.dispatch(Array.from({ length: 10 }, (_, j) => ({ id: `d${i}-${j}`, func })))));
      expect(results.flat().every((r) => r.status === 'done')).toBe(true);
      expect(most).toBe(3);
    }, 20_000);
  }

  test('at a full fleet, a dispatcher that waits gets its turns: the one with a backlog does not keep every slot', async () => {
    const name = nextName();
    const connections = await Promise.all([0, 1].map(() => ioredis.connect(redis.server.port)));
    open.push(...connections);
    const [a, b] = connections.map((c) => new Dispatcher({ maxWorkers: 4, coordinator: redisCoordinator({ client: c.client, name, maxWorkers: 2 }) })) as [Dispatcher, Dispatcher];
    const starts: string[] = [];
    const func = async (ctx: TaskContext) => {
      starts.push(ctx.taskId);
      await new Promise((resolve) => setTimeout(resolve, 40));
    };
    // A's backlog alone would hold both fleet slots for 30 × 40 / 2 = 600 ms.
    const backlog = a.dispatch(Array.from({ length: 30 }, (_, i) => ({ id: `a${i}`, func })));
    await until(() => starts.length >= 2);
    const later = b.dispatch(Array.from({ length: 4 }, (_, i) => ({ id: `b${i}`, func })));
    await Promise.all([backlog, later]);
    // B's four started while A still had most of its backlog to go.
    const lastOfB = Math.max(...['b0', 'b1', 'b2', 'b3'].map((id) => starts.indexOf(id)));
    expect(lastOfB).toBeGreaterThan(0);
    expect(starts.slice(lastOfB + 1).filter((id) => id.startsWith('a')).length).toBeGreaterThanOrEqual(10);
  }, 20_000);

  test('a 429 with a Retry-After on one dispatcher stops starts on the others until it ends', async () => {
    const name = nextName();
    const connections = await Promise.all([0, 1].map(() => ioredis.connect(redis.server.port)));
    open.push(...connections);
    const [a, b] = connections.map((c) => new Dispatcher({ maxWorkers: 2, coordinator: redisCoordinator({ client: c.client, name }) })) as [Dispatcher, Dispatcher];
    const pausedAt = performance.now();
    const limited = await a.dispatch([
      { id: 'limited', func: () => { throw Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after-ms': '400' } }); } },
    ]);
    expect(limited[0]?.status).toBe('failed');
    // The pause reaches Redis on its own call: wait until the other side would see it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    let startedAt = 0;
    const pauses: DispatcherEvents['pause'][] = [];
    b.on('pause', (event) => pauses.push(event));
    await b.dispatch([{ id: 'after', func: () => { startedAt = performance.now(); } }]);
    expect(startedAt - pausedAt).toBeGreaterThanOrEqual(350);
    expect(pauses.map((p) => p.reason)).toEqual(['rate-limit']);
  }, 20_000);

  test('a fleet budget: requests counted across dispatchers, and the queued tasks left cancelled once it is spent', async () => {
    const name = nextName();
    const connections = await Promise.all([0, 1].map(() => nodeRedis.connect(redis.server.port)));
    open.push(...connections);
    const dispatchers = connections.map(
      (c) => new Dispatcher({ maxWorkers: 1, budget: { requests: 5 }, coordinator: redisCoordinator({ client: c.client, name }) }),
    );
    const results = (await Promise.all(dispatchers.map((d, i) => d.dispatch(Array.from({ length: 6 }, (_, j) => ({ id: `b${i}-${j}`, func: () => j })))))).flat();
    expect(results.filter((r) => r.status === 'done')).toHaveLength(5);
    const cancelled = results.filter((r) => r.status === 'cancelled');
    expect(cancelled).toHaveLength(7);
    expect(cancelled.every((r) => !r.success && r.error.includes('budget exhausted (requests: 5 used of 5)'))).toBe(true);
  }, 20_000);

  test('shared token buckets: a token limit told to two dispatchers admits what one dispatcher would', async () => {
    const name = nextName();
    const connections = await Promise.all([0, 1].map(() => ioredis.connect(redis.server.port)));
    open.push(...connections);
    // 600 tokens a minute with a 1 s burst: a bucket of about 10 tokens, refilling 10 a second.
    const dispatchers = connections.map(
      (c) => new Dispatcher({ maxWorkers: 4, rateLimit: { tokensPerMinute: 600 }, coordinator: redisCoordinator({ client: c.client, name }) }),
    );
    const started: number[] = [];
    const t0 = performance.now();
    const func = (ctx: TaskContext) => {
      started.push(performance.now() - t0);
      ctx.reportUsage({ totalTokens: 5 });
    };
    await Promise.all(dispatchers.map((d, i) => d.dispatch(Array.from({ length: 4 }, (_, j) => ({ id: `t${i}-${j}`, cost: 5, func })))));
    // 8 tasks of 5 tokens from a bucket of ~9.8 that refills ~9.8 a second: two at once, then ~2 a second.
    expect(started.filter((ms) => ms < 200)).toHaveLength(1 + 1);
    expect(Math.max(...started)).toBeGreaterThanOrEqual(2_500);
  }, 20_000);

  test('wait: with Redis frozen nothing starts, running tasks finish, and work resumes by itself when it thaws', async () => {
    const name = nextName();
    const connection = await ioredis.connect(redis.server.port);
    open.push(connection);
    const d = new Dispatcher({ maxWorkers: 2, coordinator: redisCoordinator({ client: connection.client, name, timeoutMs: 200 }) });
    const events: DispatcherEvents['coordinator'][] = [];
    d.on('coordinator', (event) => events.push(event));
    const gate = deferred();
    const first = d.dispatch([{ id: 'running', func: () => gate.promise }]);
    await until(() => d.activeCount === 1);
    redis.server.freeze();
    try {
      const queued = d.dispatch([{ id: 'queued', func: () => 'later' }]);
      await until(() => events.length === 1, 3_000);
      expect(events[0]).toMatchObject({ available: false });
      gate.resolve();
      expect((await first)[0]?.status).toBe('done');
      expect(d.activeCount).toBe(0);
      expect(d.pendingCount).toBe(1);
      redis.server.thaw();
      expect((await queued)[0]).toMatchObject({ status: 'done', result: 'later' });
      expect(events.at(-1)).toEqual({ available: true });
    } finally {
      redis.server.thaw();
    }
  }, 20_000);

  test('fail: with Redis killed, queued tasks end at once as failed, saying Redis is unreachable; it serves again after a restart', async () => {
    const name = nextName();
    const connection = await ioredis.connect(redis.server.port);
    open.push(connection);
    const d = new Dispatcher({ maxWorkers: 1, coordinator: redisCoordinator({ client: connection.client, name, timeoutMs: 200, onUnavailable: 'fail' }) });
    const gate = deferred();
    const batch = d.dispatch([
      { id: 'running', func: () => gate.promise },
      { id: 'queued', func: () => 1 },
    ]);
    await until(() => d.activeCount === 1);
    await redis.server.kill();
    gate.resolve();
    const results = await batch;
    expect(results.map((r) => r.status)).toEqual(['done', 'failed']);
    expect(results[1]?.error).toMatch(/Redis is unavailable/);
    await redis.server.restart();
    // Until the client has reconnected and a probe has got through, new tasks fail too; then they run.
    let status: string | undefined;
    for (let i = 0; i < 100 && status !== 'done'; i++) {
      status = (await d.dispatch([{ id: `after-${i}`, func: () => 3 }]))[0]?.status;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe('done');
  }, 30_000);

  test('local: with Redis frozen, tasks run on the dispatcher\'s own limits until it is back', async () => {
    const name = nextName();
    const connection = await ioredis.connect(redis.server.port);
    open.push(connection);
    const d = new Dispatcher({ maxWorkers: 2, coordinator: redisCoordinator({ client: connection.client, name, timeoutMs: 200, onUnavailable: 'local' }) });
    redis.server.freeze();
    try {
      const results = await d.dispatch(Array.from({ length: 5 }, (_, i) => ({ id: `l${i}`, func: () => i })));
      expect(results.map((r) => r.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
    } finally {
      redis.server.thaw();
    }
  }, 20_000);

  test("shutdown() gives the last attempts' fleet slots back before it resolves: a client closed right after leaves no lease behind", async () => {
    // A client whose calls take 40 ms to leave and that refuses them once closed, as a client does on
    // disconnect(): the release of the last attempt is still on its way when the batch resolves.
    const closeAfter = async (settle: (d: Dispatcher) => Promise<unknown>): Promise<number> => {
      const name = nextName();
      const connection = await ioredis.connect(redis.server.port);
      open.push(connection);
      const real = connection.client as { evalsha(...args: unknown[]): Promise<unknown>; eval(...args: unknown[]): Promise<unknown> };
      let closed = false;
      const slow =
        (method: 'evalsha' | 'eval') =>
        async (...args: unknown[]): Promise<unknown> => {
          await new Promise((resolve) => setTimeout(resolve, 40));
          if (closed) {
            throw new Error('Connection is closed.');
          }
          return real[method](...args);
        };
      const client = { evalsha: slow('evalsha'), eval: slow('eval') } as unknown as typeof connection.client;
      const d = new Dispatcher({ maxWorkers: 2, coordinator: redisCoordinator({ client, name, maxWorkers: 2 }) });
      const results = await d.dispatch([{ id: 'a', func: async () => 'a' }]);
      expect(results[0]?.status).toBe('done');
      await settle(d);
      closed = true;
      const watcher = await ioredis.connect(redis.server.port);
      open.push(watcher);
      return (await (watcher.client as unknown as { zcard(key: string): Promise<number> }).zcard(`{duta:${name}}:leases`)) as number;
    };
    // Closed as soon as the batch resolves, the release is lost: the slot stays held for leaseMs.
    expect(await closeAfter(async () => undefined)).toBe(1);
    // shutdown() sends it first.
    expect(await closeAfter((d) => d.shutdown())).toBe(0);
  }, 20_000);

  test('bad options are refused before anything touches Redis, naming the field', () => {
    const client = { evalsha: async () => 0, eval: async () => 0 };
    expect(() => redisCoordinator({ client, name: '' })).toThrow(new RangeError('Expected `name` to be a non-empty string, got "" (string)'));
    expect(() => redisCoordinator({ client, name: 'x', maxWorkers: 0 })).toThrow(RangeError);
    expect(() => redisCoordinator({ client, name: 'x', leaseMs: -1 })).toThrow('`leaseMs`');
    expect(() => redisCoordinator({ client, name: 'x', onUnavailable: 'retry' as never })).toThrow(
      new RangeError("Expected `onUnavailable` to be 'wait', 'local' or 'fail', got \"retry\" (string)"),
    );
    expect(() => redisCoordinator({ client: {} as never, name: 'x' })).toThrow(TypeError);
    expect(() => redisCoordinator({ client, name: 'x', colour: 'red' } as never)).toThrow(TypeError);
  });
});
