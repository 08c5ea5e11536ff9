/**
 * The fleet store's rules, against a real redis-server, with every supported client. Each test gets a
 * fleet name of its own, and reads what Redis holds through a separate admin connection.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { rateLimitSpecs } from '../../src/policies/rate-limit.js';
import { RedisLink } from '../../src/redis/client.js';
import { FleetStore } from '../../src/redis/store.js';
import type { Candidate, FleetLimits } from '../../src/redis/types.js';
import { type Connected, LATEST_CLIENTS, closeIoredis } from './clients.js';
import { describeRedis, useRedisServer } from './server.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeRedis('FleetStore', () => {
  const redis = useRedisServer();
  let admin: Redis;
  let fleets = 0;

  beforeAll(async () => {
    admin = new Redis({ port: redis.server.port, host: '127.0.0.1' });
  });
  afterAll(() => closeIoredis(admin));

  /** Every key of a fleet, with its time to live (ms; -1 for none). */
  async function keysOf(store: FleetStore): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${store.keys.tag.replace(/[[\]*?\\]/g, '\\$&')}*`, 'COUNT', 1000);
      for (const key of keys) {
        found.set(key, await admin.pttl(key));
      }
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  // The store's rules do not depend on the client: the two current majors run them (RESP3); the 5.x
  // clients (RESP2) run the client and cluster suites.
  describe.each(LATEST_CLIENTS)('with $name', (kind) => {
    let connected: Connected;
    let link: RedisLink;

    beforeAll(async () => {
      connected = await kind.connect(redis.server.port);
      link = new RedisLink(connected.client);
    });
    afterAll(() => connected.close());

    /** A store of a new fleet; `same` gives another instance of the last fleet made. */
    const fleet = (limits: FleetLimits = {}, same = false): FleetStore => new FleetStore(link, `test-${same ? fleets : ++fleets}`, limits);
    const ask = (store: FleetStore, ...specs: [key: string, cost: number][]): Candidate[] =>
      specs.map(([key, cost]) => ({ lease: store.lease(), key, cost }));

    test("the fleet's buckets are the local limiter's: the same capacities, full at first", async () => {
      const rateLimit = { requestsPerMinute: 500, requestsPerSecond: 20, tokensPerMinute: 200_000, burstMs: 2_000, byKey: { a: { requestsPerMinute: 7, tokensPerMinute: 900 } } };
      const local = rateLimitSpecs(rateLimit);
      const { buckets } = await fleet({ rateLimit }).status();
      expect(buckets).toEqual([
        ...local.all.requests.map(({ field, capacity }) => ({ key: undefined, field, level: capacity, capacity })),
        { key: undefined, field: 'tokensPerMinute', level: local.all.tokens!.capacity, capacity: local.all.tokens!.capacity },
        ...local.byKey.get('a')!.requests.map(({ field, capacity }) => ({ key: 'a', field, level: capacity, capacity })),
        { key: 'a', field: 'tokensPerMinute', level: local.byKey.get('a')!.tokens!.capacity, capacity: local.byKey.get('a')!.tokens!.capacity },
      ]);
    });

    test('a candidate refused for tokens takes no request from the request bucket', async () => {
      // Requests: capacity 3, refilled one in 2 s; tokens: capacity 90.9, refilled 0.015 a ms.
      const store = fleet({ rateLimit: { requestsPerMinute: 33, tokensPerMinute: 1_000, burstMs: 6_000 } });
      const answer = await store.admit([], ask(store, ['', 80], ['', 50]));
      expect(answer.admitted).toEqual([true, false]);
      expect(answer.blocked).toBe('rate');
      // 50 tokens are missing 39.1 at 1000·(60/66)/60000 a ms: about 2.6 s.
      expect(answer.retryInMs).toBeGreaterThan(2_000);
      expect(answer.retryInMs).toBeLessThan(3_000);
      const { buckets } = await store.status();
      const requests = buckets.find((bucket) => bucket.field === 'requestsPerMinute');
      expect(requests?.capacity).toBe(3);
      // One request taken (the first candidate's), not two; the refill since, on a loaded machine, is under
      // a second's worth (half a request, 15 tokens): had the refused one taken its 50 tokens, the level
      // would be below zero.
      expect(requests?.level).toBeGreaterThanOrEqual(2);
      expect(requests?.level).toBeLessThan(2.9);
      const tokens = buckets.find((bucket) => bucket.field === 'tokensPerMinute')?.level;
      expect(tokens).toBeGreaterThanOrEqual(10.9);
      expect(tokens).toBeLessThan(30);
    });

    test("a key refused by its own buckets is skipped, and every later candidate of that key, while other keys go", async () => {
      const store = fleet({ rateLimit: { byKey: { slow: { requestsPerMinute: 1 } } } });
      const answer = await store.admit([], ask(store, ['slow', 1], ['slow', 1], ['fast', 1], ['', 1], ['slow', 0]));
      expect(answer.admitted).toEqual([true, false, true, true, false]);
      expect(answer.blocked).toBeUndefined();
      // One request a minute keeps half the rate when it cannot hold a burst: 2 minutes for the next.
      expect(answer.retryInMs).toBeGreaterThan(119_000);
      expect(answer.retryInMs).toBeLessThanOrEqual(120_000);
    });

    test('a candidate refused by the shared buckets stops the walk: nobody after it takes from them', async () => {
      const store = fleet({ rateLimit: { tokensPerMinute: 6_100, burstMs: 1_000 } }); // capacity 100
      const answer = await store.admit([], ask(store, ['a', 60], ['b', 50], ['c', 10], ['d', 1]));
      expect(answer.admitted).toEqual([true, false, false, false]);
      expect(answer.blocked).toBe('rate');
      // 10 tokens short at 0.1 a ms.
      expect(answer.retryInMs).toBeGreaterThan(80);
      expect(answer.retryInMs).toBeLessThanOrEqual(100);
    });

    test('a cost above the capacity waits for a full bucket, then goes, leaving the bucket in debt', async () => {
      const store = fleet({ rateLimit: { tokensPerMinute: 6_100, burstMs: 1_000 } });
      expect((await store.admit([], ask(store, ['', 250]))).admitted).toEqual([true]);
      const [tokens] = (await store.status()).buckets;
      // 250 taken from 100, and a little refill (0.1 a ms) since.
      expect(tokens?.level).toBeLessThan(-140);
    });

    test('the fleet cap holds across instances, and a release frees the slot at once', async () => {
      const a = fleet({ maxWorkers: 2 });
      const b = fleet({ maxWorkers: 2 }, true);
      const mine = ask(a, ['', 0], ['', 0], ['', 0]);
      const first = await a.admit([], mine);
      expect(first.admitted).toEqual([true, true, false]);
      expect(first.blocked).toBe('slots');
      const theirs = ask(b, ['', 0]);
      const refused = await b.admit([], theirs);
      expect(refused.admitted).toEqual([false]);
      expect(refused.leases).toBe(2);
      // Until the soonest lease ends (30 s), unless someone releases sooner.
      expect(refused.retryInMs).toBeGreaterThan(29_000);
      // Leases end on whole milliseconds, so up to one more.
      expect(refused.retryInMs).toBeLessThanOrEqual(30_001);
      // A's release and B's next ask: the slot goes to B in B's own call.
      expect((await a.admit([{ ...mine[0]!, used: 0 }], [])).released).toEqual([true]);
      const second = await b.admit([], theirs);
      expect(second.admitted).toEqual([true]);
      expect(second.leases).toBe(2);
    });

    test('Infinity as maxWorkers caps nothing, and leases are still kept for the corrections', async () => {
      const store = fleet();
      const candidates = Array.from({ length: 50 }, () => ({ lease: store.lease(), key: '', cost: 1 }));
      const answer = await store.admit([], candidates);
      expect(answer.admitted.every(Boolean)).toBe(true);
      expect(answer.leases).toBe(50);
    });

    test('leases that ran out are reclaimed by the next admission, from any instance', async () => {
      const dead = fleet({ maxWorkers: 2, leaseMs: 300 });
      const alive = fleet({ maxWorkers: 2, leaseMs: 300 }, true);
      expect((await dead.admit([], ask(dead, ['', 0], ['', 0]))).admitted).toEqual([true, true]);
      // The first instance stops (never renews, never releases).
      expect((await alive.admit([], ask(alive, ['', 0]))).admitted).toEqual([false]);
      await sleep(350);
      const answer = await alive.admit([], ask(alive, ['', 0], ['', 0], ['', 0]));
      expect(answer.admitted).toEqual([true, true, false]);
      expect(answer.leases).toBe(2);
    });

    test('releasing a lease that ran out never frees a slot someone else now holds, nor corrects anything', async () => {
      const late = fleet({ maxWorkers: 1, leaseMs: 300, budget: { tokens: 1_000 } });
      const other = fleet({ maxWorkers: 1, leaseMs: 300, budget: { tokens: 1_000 } }, true);
      const [mine] = ask(late, ['', 100]);
      expect((await late.admit([], [mine!])).admitted).toEqual([true]);
      await sleep(350);
      expect((await other.admit([], ask(other, ['', 100]))).admitted).toEqual([true]);
      // The late instance releases its run-out lease (using 10 of its 100 tokens) and asks again.
      const answer = await late.admit([{ ...mine!, used: 10 }], ask(late, ['', 0]));
      expect(answer.released).toEqual([false]);
      expect(answer.admitted).toEqual([false]);
      expect(answer.blocked).toBe('slots');
      const status = await late.status();
      expect(status.leases).toBe(1);
      // Both estimates stand: the late correction was dropped with its lease.
      expect(status.used).toEqual({ tokens: 200, requests: 2, spend: 0 });
    });

    test('renewing keeps a lease past leaseMs, and names the leases that ran out', async () => {
      // Timers never fire early, so the lease that must be gone is; the renewed one has 200 ms of slack.
      const store = fleet({ maxWorkers: 2, leaseMs: 600 });
      const other = fleet({ maxWorkers: 2, leaseMs: 600 }, true);
      const [kept, dropped] = ask(store, ['', 0], ['', 0]);
      await store.admit([], [kept!, dropped!]);
      await sleep(300);
      expect((await store.renew([kept!.lease])).lost).toEqual([]);
      await sleep(400);
      // 700 ms in: the renewed lease holds (until 900), the other ran out (at 600).
      expect((await other.admit([], ask(other, ['', 0], ['', 0]))).admitted).toEqual([true, false]);
      expect((await store.renew([kept!.lease, dropped!.lease])).lost).toEqual([dropped!.lease]);
    });

    test('a renewal never shortens a lease, and a lease that ran out is not revived', async () => {
      const long = fleet({ leaseMs: 10_000 });
      const short = fleet({ leaseMs: 100 }, true);
      const [lease] = ask(long, ['', 0]);
      await long.admit([], [lease!]);
      await short.renew([lease!.lease]);
      const score = Number(await admin.zscore(long.keys.leases, lease!.lease));
      expect(score - (await long.status()).serverTimeMs).toBeGreaterThan(9_000);
      const [gone] = ask(short, ['', 0]);
      await short.admit([], [gone!]);
      await sleep(150);
      expect((await short.renew([gone!.lease])).lost).toEqual([gone!.lease]);
      expect(await admin.zscore(short.keys.leases, gone!.lease)).toBeNull();
    });

    test('correcting the same attempt twice changes nothing', async () => {
      // Capacity 87.1, refilled about one token in 115 ms.
      const store = fleet({ rateLimit: { tokensPerMinute: 610, burstMs: 10_000 }, budget: { tokens: 10_000, spend: 100 } });
      const [attempt] = ask(store, ['', 60]);
      await store.admit([], [{ ...attempt!, spend: 6 }]);
      const release = { ...attempt!, spend: 6, used: 90, usedSpend: 9 };
      // Twice in one call, then again in another.
      expect((await store.admit([release, release], [])).released).toEqual([true, false]);
      const once = await store.status();
      expect((await store.admit([release], [])).released).toEqual([false]);
      const twice = await store.status();
      expect(once.used).toEqual({ tokens: 90, requests: 1, spend: 9 });
      expect(twice.used).toEqual(once.used);
      // 87.1 - 90, and only the refill in between: a second correction would have taken 30 more.
      expect(once.buckets[0]?.level).toBeLessThan(0);
      expect(twice.buckets[0]!.level - once.buckets[0]!.level).toBeLessThan(1);
    });

    test('a refund never lifts a bucket above its capacity', async () => {
      // Capacity 100, refilling 100 in 100 ms.
      const store = fleet({ rateLimit: { tokensPerMinute: 60_100, burstMs: 100 } });
      const [attempt] = ask(store, ['', 80]);
      await store.admit([], [attempt!]);
      await sleep(150);
      // Full again by now; the attempt reports it used nothing: 80 tokens come back.
      await store.admit([{ ...attempt!, used: 0 }], []);
      const [tokens] = (await store.status()).buckets;
      expect(tokens?.capacity).toBeCloseTo(100, 9);
      expect(tokens?.level).toBeCloseTo(100, 9);
      expect(Number(await admin.hget(store.keys.state, 'tpm:l'))).toBeLessThanOrEqual(100);
    });

    test('a fleet pause takes the longest: a shorter one never cuts it, and it holds every admission', async () => {
      const store = fleet();
      const other = fleet({}, true);
      expect(await store.pause(1_000)).toBe(1_000);
      const shorter = await other.pause(200);
      expect(shorter).toBeGreaterThan(800);
      expect(shorter).toBeLessThanOrEqual(1_000);
      expect(await admin.pttl(store.keys.pause)).toBeGreaterThan(800);
      const answer = await other.admit([], ask(other, ['', 0], ['', 0]));
      expect(answer.admitted).toEqual([false, false]);
      expect(answer.blocked).toBe('pause');
      expect(answer.pausedForMs).toBeGreaterThan(800);
      expect(answer.retryInMs).toBe(answer.pausedForMs);
      const longer = await other.pause(5_000);
      expect(longer).toBe(5_000);
      expect(await admin.pttl(store.keys.pause)).toBeGreaterThan(4_500);
      expect(await store.pause(0)).toBeGreaterThan(4_500);
    });

    test('a pause ends on time, and admissions go again', async () => {
      const store = fleet();
      await store.pause(100);
      await sleep(130);
      const answer = await store.admit([], ask(store, ['', 0]));
      expect(answer.admitted).toEqual([true]);
      expect(answer.pausedForMs).toBe(0);
      expect(await admin.exists(store.keys.pause)).toBe(0);
    });

    test('a spent budget refuses everyone left, says which cap, and never to ask again', async () => {
      const store = fleet({ budget: { requests: 3, tokens: 1_000 } });
      const answer = await store.admit([], ask(store, ['', 10], ['a', 10], ['b', 10], ['c', 10], ['', 10]));
      expect(answer.admitted).toEqual([true, true, true, false, false]);
      expect(answer.blocked).toBe('budget');
      expect(answer.retryInMs).toBe(Infinity);
      expect(answer.exhausted).toEqual({ cap: 'requests', used: 3, limit: 3, message: 'budget exhausted (requests: 3 used of 3)' });
    });

    test('the budget counts running estimates, and reported usage replaces them', async () => {
      const store = fleet({ budget: { tokens: 100 } });
      const [big, small] = ask(store, ['', 70], ['', 20]);
      expect((await store.admit([], [big!, small!])).exhausted).toBeUndefined();
      // 90 counted while both run; the big one used 80: 100, the cap.
      const answer = await store.admit([{ ...big!, used: 80 }], ask(store, ['', 1]));
      expect(answer.admitted).toEqual([false]);
      expect(answer.exhausted?.message).toBe('budget exhausted (tokens: 100 used of 100)');
    });

    test('a candidate whose lease is already held is admitted again at no charge (a retried call)', async () => {
      const store = fleet({ maxWorkers: 1, budget: { requests: 10 }, rateLimit: { tokensPerMinute: 610, burstMs: 10_000 } });
      const candidates = ask(store, ['', 30]);
      await store.admit([], candidates);
      const again = await store.admit([], candidates);
      expect(again.admitted).toEqual([true]);
      const status = await store.status();
      expect(status.used.requests).toBe(1);
      expect(status.leases).toBe(1);
      // 87.1 - 30 once, not twice.
      expect(status.buckets[0]?.level).toBeGreaterThan(50);
      expect(status.buckets[0]?.level).toBeLessThan(70);
    });

    test('every key has a TTL, and the key count stays bounded however many tasks ran', async () => {
      const limits: FleetLimits = {
        maxWorkers: 8,
        leaseMs: 5_000,
        rateLimit: { requestsPerSecond: 10_000, tokensPerMinute: 10_000_000, byKey: { a: { requestsPerMinute: 1_000_000 }, b: { tokensPerMinute: 1_000_000 } } },
        budget: { tokens: 1e12 },
      };
      const instances = [fleet(limits), fleet(limits, true), fleet(limits, true)];
      await instances[0]!.pause(50);
      await sleep(60);
      let running: { store: FleetStore; candidate: Candidate }[] = [];
      for (let round = 0; round < 40; round++) {
        const store = instances[round % 3]!;
        const candidates = ask(store, ['a', 10], ['b', 10], ['', 10], ['c', 10]);
        const releases = running.filter((run) => run.store === store).map((run) => ({ ...run.candidate, used: 5 }));
        running = running.filter((run) => run.store !== store);
        const answer = await store.admit(releases, candidates);
        candidates.forEach((candidate, i) => answer.admitted[i] && running.push({ store, candidate }));
      }
      await instances[1]!.pause(10_000);
      // Three keys, each with a TTL; the state hash holds the budget's 3 counts and 2 fields per bucket.
      const keys = await keysOf(instances[0]!);
      const { tag } = instances[0]!.keys;
      expect([...keys.keys()].sort()).toEqual([`${tag}:instances`, `${tag}:leases`, `${tag}:pause`, `${tag}:state`, `${tag}:waiters`]);
      for (const [key, ttl] of keys) {
        expect([key, ttl > 0]).toEqual([key, true]);
      }
      expect((await admin.hkeys(instances[0]!.keys.state)).sort()).toEqual(
        ['key:a:rpm:l', 'key:a:rpm:t', 'key:b:tpm:l', 'key:b:tpm:t', 'requests', 'rps:l', 'rps:t', 'spend', 'tokens', 'tpm:l', 'tpm:t'],
      );
      // The budget's TTL (24 h by default) is refreshed by each change.
      expect(keys.get(`${tag}:state`)).toBeGreaterThan(86_000_000);
      expect(await admin.zcard(instances[0]!.keys.leases)).toBeLessThanOrEqual(8);
    });
  });
});
