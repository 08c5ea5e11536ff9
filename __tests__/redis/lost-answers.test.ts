import { afterEach, expect, test } from '@jest/globals';
import { Dispatcher } from '../../src/index.js';
import { redisCoordinator } from '../../src/redis/index.js';
import { deferred, until } from '../helpers.js';
import { type Connected, LATEST_CLIENTS } from './clients.js';
import { describeRedis, useRedisServer } from './server.js';

// A call that times out on a frozen Redis is not lost: the server runs it when it thaws, and may grant
// the leases it asked for. A task that then ends without running (failed by onUnavailable: 'fail', or
// cancelled) must give its lease back, or the slot stays taken until the lease runs out (30 s here).
// Found by fleet.test.ts, where a fleet in 'fail' mode stood still for leaseMs after Redis thawed.
describeRedis('a lease granted by a call whose answer was lost', () => {
  const redis = useRedisServer();
  const open: Connected[] = [];
  afterEach(async () => {
    redis.server.thaw();
    for (const connection of open.splice(0)) {
      await connection.close();
    }
  });
  let fleet = 0;

  for (const kind of LATEST_CLIENTS) {
    test(`${kind.name}: is given back when its task fails because Redis could not be reached ('fail')`, async () => {
      const connection = await kind.connect(redis.server.port);
      open.push(connection);
      const coordinator = redisCoordinator({ client: connection.client, name: `lost-${++fleet}`, maxWorkers: 1, timeoutMs: 200, onUnavailable: 'fail' });
      const d = new Dispatcher({ maxWorkers: 1, coordinator });
      // The scripts loaded: a call on the frozen server would otherwise be answered NOSCRIPT, too late to matter.
      expect((await d.dispatch([{ id: 'before', func: () => 0 }]))[0]?.status).toBe('done');
      // And its release through, so that the next call is the next task's.
      await new Promise((resolve) => setTimeout(resolve, 100));
      redis.server.freeze();
      // Its call reaches the frozen server, times out, and the task fails.
      expect((await d.dispatch([{ id: 'during', func: () => 1 }]))[0]?.error).toMatch(/Redis is unavailable/);
      redis.server.thaw();
      // The server has now run that call and granted the one fleet slot to a task that is over.
      const started = performance.now();
      let result: string | undefined;
      for (let i = 0; result !== 'done' && performance.now() - started < 10_000; i++) {
        result = (await d.dispatch([{ id: `after-${i}`, func: () => 2 }]))[0]?.status;
      }
      expect(result).toBe('done');
      expect(performance.now() - started).toBeLessThan(5_000);
    }, 20_000);
  }

  test("is given back when its task is cancelled while Redis is out of reach ('wait')", async () => {
    const [ioredis] = LATEST_CLIENTS;
    const connection = await ioredis!.connect(redis.server.port);
    open.push(connection);
    const coordinator = redisCoordinator({ client: connection.client, name: `lost-${++fleet}`, maxWorkers: 1, timeoutMs: 200 });
    const d = new Dispatcher({ maxWorkers: 1, coordinator });
    const down = deferred();
    d.on('coordinator', ({ available }) => available || down.resolve());
    expect((await d.dispatch([{ id: 'before', func: () => 0 }]))[0]?.status).toBe('done');
    await new Promise((resolve) => setTimeout(resolve, 100));
    redis.server.freeze();
    const controller = new AbortController();
    const cancelled = d.dispatch([{ id: 'cancelled', func: () => 1, signal: controller.signal }]);
    await down.promise;
    controller.abort();
    expect((await cancelled)[0]?.status).toBe('cancelled');
    redis.server.thaw();
    const started = performance.now();
    const results = await d.dispatch([{ id: 'after', func: () => 2 }]);
    expect(results[0]?.status).toBe('done');
    expect(performance.now() - started).toBeLessThan(5_000);
    await until(() => d.activeCount === 0);
  }, 40_000);
});
