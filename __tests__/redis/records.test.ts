import { afterEach, expect, test } from '@jest/globals';
import { Dispatcher, type DispatchResult, TaskIdError } from '../../src/index.js';
import { redisCoordinator, type RedisCoordinatorOptions } from '../../src/redis/index.js';
import { RedisLink } from '../../src/redis/client.js';
import { FleetStore } from '../../src/redis/store.js';
import { deferred, until } from '../helpers.js';
import { type Connected, LATEST_CLIENTS } from './clients.js';
import { describeRedis, useRedisServer } from './server.js';

// Two dispatchers with coordinators of one name stand for two instances of a serverless function:
// a task submitted on one is looked up, and waited for, on the other.
describeRedis('task records through duta/redis', () => {
  const redis = useRedisServer();
  const open: Connected[] = [];
  afterEach(async () => {
    for (const connection of open.splice(0)) {
      await connection.close();
    }
  });

  let fleet = 0;
  const nextName = (): string => `records-${++fleet}-${Date.now()}`;

  /** Two instances of one fleet, with the options given. */
  async function pair(kind = LATEST_CLIENTS[0]!, options: Partial<RedisCoordinatorOptions> = {}, maxWorkers = 2): Promise<[Dispatcher, Dispatcher]> {
    const name = nextName();
    const connections = await Promise.all([0, 1].map(() => kind.connect(redis.server.port)));
    open.push(...connections);
    return connections.map((c) => new Dispatcher({ maxWorkers, coordinator: redisCoordinator({ client: c.client, name, ...options }) })) as [Dispatcher, Dispatcher];
  }

  for (const kind of LATEST_CLIENTS) {
    test(`${kind.name}: a task submitted on one instance is pending, running, then done with its value on the other`, async () => {
      const [a, b] = await pair(kind, {}, 1);
      const blocker = deferred<string>();
      const gate = deferred<{ summary: string }>();
      a.submit({ id: 'first', func: () => blocker.promise });
      const id = a.submit({ id: 'summary-1', func: () => gate.promise });
      await a.flush();
      expect(await b.lookup(id)).toEqual({ taskId: id, status: 'pending' });
      blocker.resolve('done');
      await until(() => a.activeCount === 1 && a.pendingCount === 0);
      await a.flush();
      expect(await b.lookup(id)).toEqual({ taskId: id, status: 'running' });
      const waited = b.waitFor<{ summary: string }>(id);
      gate.resolve({ summary: 'short' });
      const result = await waited;
      expect(result).toMatchObject({ taskId: id, success: true, status: 'done', result: { summary: 'short' }, attempts: 1 });
      expect(await b.lookup(id)).toEqual(result);
    }, 20_000);
  }

  test('an id no instance recorded is undefined to lookup and a TaskIdError to waitFor; lookup works without a coordinator too', async () => {
    const [, b] = await pair();
    expect(await b.lookup('nobody')).toBeUndefined();
    await expect(b.waitFor('nobody')).rejects.toThrow(new TaskIdError('nobody', 'is unknown or evicted'));
    const local = new Dispatcher();
    const gate = deferred();
    local.submit({ id: 'here', func: () => gate.promise });
    expect(await local.lookup('here')).toEqual({ taskId: 'here', status: 'pending' });
    gate.resolve();
    await local.waitFor('here');
    expect(await local.lookup('here')).toMatchObject({ status: 'done' });
    expect(await local.lookup('elsewhere')).toBeUndefined();
  }, 20_000);

  test('a submit whose id is unfinished on another instance ends as failed with a TaskIdError, and the first is untouched', async () => {
    const [a, b] = await pair();
    const gate = deferred<string>();
    a.submit({ id: 'shared-id', func: () => gate.promise });
    await a.flush();
    let ranOnB = false;
    b.submit({ id: 'shared-id', func: () => { ranOnB = true; return 'b'; } });
    const second = await b.waitFor('shared-id');
    expect(second).toMatchObject({ status: 'failed', error: 'Task id "shared-id" is already pending or running on another instance of the fleet' });
    expect((second as { cause: unknown }).cause).toBeInstanceOf(TaskIdError);
    expect(ranOnB).toBe(false);
    gate.resolve('a');
    expect(await a.waitFor('shared-id')).toMatchObject({ status: 'done', result: 'a' });
    await a.flush();
    expect(await b.lookup('shared-id')).toMatchObject({ status: 'failed' });
  }, 20_000);

  test('a dispatch batch is not recorded; a dispatchNowait one is', async () => {
    const [a, b] = await pair();
    await a.dispatch([{ id: 'batch-task', func: () => 1 }]);
    await Promise.all(a.dispatchNowait([{ id: 'nowait-task', func: () => 2 }]).values());
    await a.flush();
    expect(await b.lookup('batch-task')).toBeUndefined();
    expect(await b.lookup('nowait-task')).toMatchObject({ status: 'done', result: 2 });
  }, 20_000);

  test('a value that cannot be serialized fails nothing: the local result keeps it, the shared record says why', async () => {
    const [a, b] = await pair();
    const id = a.submit({ id: 'big', func: () => 10n ** 20n });
    const local = await a.waitFor(id);
    expect(local).toMatchObject({ status: 'done', result: 10n ** 20n });
    await a.flush();
    const remote = (await b.lookup(id)) as DispatchResult;
    expect(remote).toMatchObject({ success: true, status: 'done', result: undefined });
    expect((remote as { unstored?: string }).unstored).toMatch(/^the result could not be stored: .*BigInt/);
  }, 20_000);

  test('a failure travels with its cause as a plain name and message, and its status', async () => {
    const [a, b] = await pair();
    const id = a.submit({ id: 'http', func: () => { throw Object.assign(new Error('bad request'), { name: 'APIError', status: 400 }); } });
    await a.waitFor(id);
    await a.flush();
    const remote = await b.lookup(id);
    expect(remote).toMatchObject({ status: 'failed', error: 'bad request', attempts: 1 });
    expect((remote as { cause: unknown }).cause).toEqual({ name: 'APIError', message: 'bad request', status: 400 });
  }, 20_000);

  test('serialize and deserialize of the coordinator carry what JSON cannot', async () => {
    const serialize = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? { $big: v.toString() } : v));
    const deserialize = (text: string) => JSON.parse(text, (_, v: unknown) => (typeof v === 'object' && v !== null && '$big' in v ? BigInt((v as { $big: string }).$big) : v)) as unknown;
    const [a, b] = await pair(LATEST_CLIENTS[1], { serialize, deserialize });
    const id = a.submit({ id: 'big', func: () => ({ n: 2n ** 70n }) });
    await a.waitFor(id);
    await a.flush();
    expect(await b.lookup(id)).toMatchObject({ status: 'done', result: { n: 2n ** 70n } });
  }, 20_000);

  test('a finished record expires after resultTtlMs', async () => {
    const [a, b] = await pair(LATEST_CLIENTS[0], { resultTtlMs: 300 });
    const id = a.submit({ id: 'short-lived', func: () => 'x' });
    await a.waitFor(id);
    await a.flush();
    expect(await b.lookup(id)).toMatchObject({ status: 'done' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await b.lookup(id)).toBeUndefined();
  }, 20_000);

  test('a task whose instance stopped renewing is lost to every lookup within leaseMs and a second, and a waitFor ends', async () => {
    const connection = await LATEST_CLIENTS[0]!.connect(redis.server.port);
    open.push(connection);
    const name = nextName();
    // An instance that records a task, then stops (as a frozen or killed one): nothing renews it.
    const gone = new FleetStore(new RedisLink(connection.client), name, { leaseMs: 600 });
    await gone.admit([], [], [{ op: 'n', id: 'orphan' }]);
    const [, b] = [undefined, new Dispatcher({ coordinator: redisCoordinator({ client: connection.client, name, leaseMs: 600 }) })];
    expect(await b.lookup('orphan')).toEqual({ taskId: 'orphan', status: 'pending' });
    const started = performance.now();
    const lost = await b.waitFor('orphan');
    expect(performance.now() - started).toBeLessThan(600 + 1_000);
    expect(lost).toMatchObject({ status: 'lost', success: false });
    expect(lost.success ? '' : lost.error).toMatch(/was lost: the instance running it stopped/);
  }, 20_000);

  test('results of tasks that finished while Redis was away are written when it is back; flush rejects meanwhile', async () => {
    const [a, b] = await pair(LATEST_CLIENTS[0], { timeoutMs: 200, onUnavailable: 'local' });
    await a.flush();
    redis.server.freeze();
    let id: string;
    try {
      id = a.submit({ id: 'offline', func: () => 'made offline' });
      expect((await a.waitFor(id)).status).toBe('done');
      await expect(a.flush()).rejects.toThrow(/Redis is unavailable/);
    } finally {
      redis.server.thaw();
    }
    await until(() => true);
    for (let i = 0; i < 50; i++) {
      try {
        await a.flush();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(await b.lookup(id)).toMatchObject({ status: 'done', result: 'made offline' });
  }, 30_000);
});
