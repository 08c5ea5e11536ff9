/**
 * The Redis link under trouble, with every supported client: scripts lost by SCRIPT FLUSH or a
 * restart, a frozen server, a dead one, a key of the wrong type; and bad input, refused before
 * anything touches Redis.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisLink } from '../../src/redis/client.js';
import { RedisReplyError, RedisUnavailableError } from '../../src/redis/errors.js';
import { FleetStore } from '../../src/redis/store.js';
import type { Candidate } from '../../src/redis/types.js';
import { CLIENTS, type Connected, closeIoredis } from './clients.js';
import { describeRedis, useRedisServer } from './server.js';

describe('bad input is refused before anything touches Redis', () => {
  // Never connected: a call would hang, so a test that passes proves nothing was sent.
  const idle = new Redis({ lazyConnect: true, port: 1 });
  const link = new RedisLink(idle);
  const store = new FleetStore(link, 'bad-input', { maxWorkers: 2 });
  afterAll(() => closeIoredis(idle));

  test.each([
    ['no client', undefined, TypeError, /Expected `client` to be an ioredis client \(Redis or Cluster\) or a connected node-redis client, got undefined/],
    ['a string', 'redis://localhost', TypeError, /`client`.*got "redis:\/\/localhost" \(string\)/],
    ['an object without the methods', { get: () => 1 }, TypeError, /`client`/],
    ['a node-redis client not connected', createClient(), TypeError, /Expected `client` to be a connected node-redis client \(call `await client.connect\(\)` first\)/],
  ])('a RedisLink of %s', (_, client, Kind, message) => {
    expect(() => new RedisLink(client as never)).toThrow(Kind);
    expect(() => new RedisLink(client as never)).toThrow(message);
  });

  test.each([0, -1, Infinity, Number.NaN])('a timeoutMs of %p', (timeoutMs) => {
    expect(() => new RedisLink(idle, { timeoutMs })).toThrow(new RangeError(`Expected \`timeoutMs\` to be a finite number > 0, got ${timeoutMs} (number)`));
  });

  test.each([
    ['a link that is not one', () => new FleetStore(idle as never, 'x'), TypeError, 'Expected `link` to be a RedisLink, got an object (object)'],
    ['an empty name', () => new FleetStore(link, ''), RangeError, 'Expected `name` to be a non-empty string, got "" (string)'],
    ['a name that is not a string', () => new FleetStore(link, 5 as never), TypeError, 'Expected `name` to be a non-empty string, got 5 (number)'],
    ['maxWorkers 0', () => new FleetStore(link, 'x', { maxWorkers: 0 }), RangeError, 'Expected `maxWorkers` to be an integer ≥ 1 or Infinity, got 0 (number)'],
    ['maxWorkers 1.5', () => new FleetStore(link, 'x', { maxWorkers: 1.5 }), RangeError, 'Expected `maxWorkers` to be an integer ≥ 1 or Infinity, got 1.5 (number)'],
    ['leaseMs Infinity', () => new FleetStore(link, 'x', { leaseMs: Infinity }), RangeError, 'Expected `leaseMs` to be a finite number > 0, got Infinity (number)'],
    ['leaseMs as a string', () => new FleetStore(link, 'x', { leaseMs: '30s' as never }), TypeError, 'Expected `leaseMs` to be a finite number > 0, got "30s" (string)'],
    ['a budget cap below 0', () => new FleetStore(link, 'x', { budget: { tokens: -1 } }), RangeError, 'Expected `budget.tokens` to be a number ≥ 0, got -1 (number)'],
    ['an unknown budget field', () => new FleetStore(link, 'x', { budget: { dollars: 5 } as never }), TypeError, 'Unknown option `budget.dollars`'],
    ['an unknown limit', () => new FleetStore(link, 'x', { concurrency: 5 } as never), TypeError, 'Unknown option `limits.concurrency`'],
    ['a bad rate limit', () => new FleetStore(link, 'x', { rateLimit: { byKey: { a: { requestsPerMinute: 0 } } } }), RangeError, 'Expected `rateLimit.byKey["a"].requestsPerMinute` to be a number > 0, got 0 (number)'],
  ])('a FleetStore with %s', (_, make, Kind, message) => {
    expect(make).toThrow(Kind);
    expect(make).toThrow(message);
  });

  const ok: Candidate = { lease: 'l', key: '', cost: 1 };
  test.each([
    ['a cost below 0', [], [{ ...ok, cost: -1 }], RangeError, 'Expected `candidates[0].cost` to be a finite number ≥ 0, got -1 (number)'],
    ['a key that is not a string', [], [ok, { ...ok, lease: 'm', key: undefined }], TypeError, "Expected `candidates[1].key` to be a string ('' for no key), got undefined (undefined)"],
    ['an empty lease', [], [{ ...ok, lease: '' }], RangeError, 'Expected `candidates[0].lease` to be a non-empty string, got "" (string)'],
    ['a lease twice in a batch', [], [ok, ok], RangeError, 'Expected `candidates[1].lease` to be unique in the batch, got "l" twice'],
    ['a usage of NaN', [{ ...ok, used: Number.NaN }], [], RangeError, 'Expected `releases[0].used` to be a finite number ≥ 0, got NaN (number)'],
    ['a release with an unknown field', [{ ...ok, tokens: 5 }], [], TypeError, 'Unknown option `releases[0].tokens`'],
    ['candidates that are not an array', [], 'x', TypeError, 'Expected `candidates` to be an array, got "x" (string)'],
  ])('an admission with %s', async (_, releases, candidates, Kind, message) => {
    const before = link.roundTrips;
    const call = store.admit(releases as never, candidates as never);
    await expect(call).rejects.toThrow(Kind);
    await expect(call).rejects.toThrow(message);
    expect(link.roundTrips).toBe(before);
  });

  test('a client that throws instead of rejecting gives the typed error at once', async () => {
    const throwing = { evalsha: () => { throw new Error('socket gone'); }, eval: () => Promise.resolve(1) };
    const started = performance.now();
    const error = await new RedisLink(throwing, { timeoutMs: 5_000 }).run({ name: 'x', sha1: 'a', source: 'return 1' }, [], []).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toBe('Redis is unavailable: `x` failed: socket gone');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test('a pause of a negative or infinite time', async () => {
    await expect(store.pause(-5)).rejects.toThrow(new RangeError('Expected `ms` to be a finite number ≥ 0, got -5 (number)'));
    await expect(store.pause(Infinity)).rejects.toThrow(RangeError);
  });
});

describeRedis('RedisLink against a redis-server in trouble', () => {
  const redis = useRedisServer();
  let admin: Redis;
  let fleets = 0;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  beforeAll(() => {
    admin = new Redis({ port: redis.server.port, host: '127.0.0.1', retryStrategy: () => 50 });
    admin.on('error', () => {});
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    await closeIoredis(admin);
    process.off('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    // Whatever a test did to the server, the next one finds it running.
    redis.server.thaw();
    expect(unhandled).toEqual([]);
  });

  describe.each(CLIENTS)('with $name', (kind) => {
    let connected: Connected;
    let link: RedisLink;
    let store: FleetStore;
    const one = (): Candidate[] => [{ lease: store.lease(), key: '', cost: 1 }];

    beforeEach(async () => {
      connected = await kind.connect(redis.server.port);
      link = new RedisLink(connected.client, { timeoutMs: 300 });
      store = new FleetStore(link, `trouble-${++fleets}`, { maxWorkers: 100 });
    });
    afterEach(() => connected.close());

    test('a script call is one round trip once Redis has the script, two the first time', async () => {
      await store.admit([], one());
      const first = link.roundTrips;
      await store.renew([]);
      await store.pause(0);
      expect(link.roundTrips - first).toBe(4);
      const before = link.roundTrips;
      await store.admit([], one());
      await store.renew([]);
      await store.pause(0);
      expect(link.roundTrips - before).toBe(3);
    });

    test('after SCRIPT FLUSH the call falls back to EVAL once, and EVALSHA works again after', async () => {
      await store.admit([], one());
      await admin.script('FLUSH');
      const before = link.roundTrips;
      expect((await store.admit([], one())).admitted).toEqual([true]);
      expect(link.roundTrips - before).toBe(2);
      await store.admit([], one());
      expect(link.roundTrips - before).toBe(3);
    });

    test('after Redis is killed and started again, calls go through again, scripts loaded anew', async () => {
      await store.admit([], one());
      await redis.server.kill();
      // While it is down: a typed error, within the time limit.
      const down = await store.admit([], one()).catch((error: unknown) => error);
      expect(down).toBeInstanceOf(RedisUnavailableError);
      await redis.server.restart();
      let answer;
      for (let tries = 0; answer === undefined; tries++) {
        // The client reconnects on its own schedule; a call may fail while it does.
        try {
          answer = await store.admit([], one());
        } catch (error) {
          expect(error).toBeInstanceOf(RedisUnavailableError);
          expect(tries).toBeLessThan(40);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      expect(answer.admitted).toEqual([true]);
      // The restarted server is empty: only this lease is held.
      expect(answer.leases).toBe(1);
      expect(await admin.script('EXISTS', (await import('../../src/redis/scripts.generated.js')).admit.sha1)).toEqual([1]);
    });

    test('a frozen server makes a call reject within its time limit; its late answer is dropped', async () => {
      await store.admit([], one());
      redis.server.freeze();
      const started = performance.now();
      const error = await store.admit([], one()).catch((caught: unknown) => caught);
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toMatchObject({ name: 'RedisUnavailableError', script: 'admit', timedOut: true, message: 'Redis is unavailable: `admit` got no answer within 300 ms' });
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1_500);
      redis.server.thaw();
      // The frozen call ran once the server thawed (its lease is there), and nothing else broke.
      const after = await store.admit([], one());
      expect(after.admitted).toEqual([true]);
      expect(after.leases).toBe(3);
    });

    test('a closed client gives a RedisUnavailableError that is not a timeout', async () => {
      await connected.close();
      const error = await store.admit([], one()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect(error).toMatchObject({ timedOut: false, script: 'admit' });
      expect((error as Error).cause).toBeInstanceOf(Error);
    });

    test('a key of the wrong type gives a RedisReplyError naming the script and the reply', async () => {
      await admin.set(store.keys.leases, 'not a zset');
      const error = await store.admit([], one()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RedisReplyError);
      expect((error as Error).message).toMatch(/^Redis refused `admit`: .*WRONGTYPE/);
    });
  });
});
