/**
 * A fleet of real processes: each child (fixtures/fleet-instance.ts) is one instance with its own Redis
 * client and Dispatcher, as copies of a serverless function are, and every task is one request to a
 * server in this process that writes down what it receives (witness.ts). Each test tells what that
 * server saw, from whom and when: what a provider would see of the fleet, whatever each instance believes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ClientName, Scenario, TaskReport } from '../fixtures/fleet-protocol.js';
import { Instances, runFleet, startFleet } from './instances.js';
import { describeRedis, useRedisServer } from './server.js';
import { type Arrival, startWitness, type Witness } from './witness.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const MINUTES_7 = 7 * 60_000;

/** How many results of each status. */
function statuses(results: readonly TaskReport[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    counts[r.status] = (counts[r.status] ?? 0) + 1;
  }
  return counts;
}

/**
 * The first arrival that one token bucket (`capacity`, refilled `perMs`, full at `since`) could not
 * have let through, each arrival taking `amount` of it; undefined when all fit. A request reaches the
 * server after Redis admitted it, and nothing was admitted before `since`, so with the bucket shared
 * the check holds exactly, with no slack for timing.
 */
function beyondBucket(arrivals: readonly Arrival[], since: number, capacity: number, perMs: number, amount: (a: Arrival) => number): Arrival | undefined {
  let taken = 0;
  return arrivals.find((arrival) => {
    taken += amount(arrival);
    return taken > capacity + perMs * (arrival.at - since) + 1e-9;
  });
}

/** Until `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  for (const started = performance.now(); !check(); await sleep(10)) {
    if (performance.now() - started > timeoutMs) {
      throw new Error(`not within ${timeoutMs} ms: ${what}`);
    }
  }
}

describeRedis('a fleet of processes sharing one set of limits', () => {
  const redis = useRedisServer();
  const instances = new Instances();
  let witness: Witness;
  let fleets = 0;

  beforeAll(async () => {
    witness = await startWitness();
    // Every process the tests take, started at once while nothing else runs: four with the right
    // time, one 7 minutes slow and one 7 minutes fast.
    await Promise.all([instances.take(4), instances.take(1, -MINUTES_7), instances.take(1, MINUTES_7)]);
  }, 60_000);
  afterAll(async () => {
    await instances.stopAll();
    await witness.close();
  });

  /** A fresh fleet name per run, so runs share nothing in the one Redis. */
  const fleetName = (): string => `fleet-${++fleets}`;

  /** Scenarios for instances p1, p2, … using `clients`, each given `common`. */
  const scenarios = (clients: readonly ClientName[], common: Omit<Scenario, 'from' | 'url' | 'redisPort' | 'client'>): Scenario[] =>
    clients.map((client, i) => ({ ...common, from: `p${i + 1}`, url: witness.url, redisPort: redis.server.port, client }));

  const from = (...names: string[]) => (arrival: Arrival) => names.includes(arrival.from);
  const between = (start: number, end: number) => (arrival: Arrival) => arrival.at >= start && arrival.at < end;

  test('the coordinator caps the requests in flight across every process, whatever client each uses', async () => {
    const clients: ClientName[] = ['ioredis 6', 'node-redis 6', 'ioredis 5', 'node-redis 5'];
    const fleet = await instances.take(clients.length);
    witness.reset(() => ({ holdMs: 150 }));
    const { reports } = await runFleet(fleet, scenarios(clients, { fleet: { name: fleetName(), maxWorkers: 3 }, maxWorkers: 4, tasks: 5 }));

    // 20 requests, 5 from each process, never more than 3 at once at the server.
    expect(reports.map((report) => statuses(report.results))).toEqual(clients.map(() => ({ done: 5 })));
    expect(witness.arrivals).toHaveLength(20);
    for (const name of ['p1', 'p2', 'p3', 'p4']) {
      expect(witness.arrivals.filter(from(name))).toHaveLength(5);
    }
    expect(witness.peak()).toBe(3);

    // The same four processes without the coordinator: each runs its own 4.
    witness.reset(() => ({ holdMs: 150 }));
    await runFleet(fleet, scenarios(clients, { maxWorkers: 4, tasks: 5 }));
    expect(witness.arrivals).toHaveLength(20);
    expect(witness.peak()).toBeGreaterThan(3);
  }, 30_000);

  describe('shared rate limits, as the server counts them', () => {
    // requestsPerSecond: 20 makes a bucket of 20 · 100 / 1100 requests (a tenth of the window as
    // burst), refilled so that no second holds more than 20.
    const REQUESTS = { capacity: (20 * 100) / 1_100, perMs: (20 - (20 * 100) / 1_100) / 1_000 };

    test('three processes told 20 requests a second send no more than one dispatcher would; alone, each sends its own 20', async () => {
      const clients: ClientName[] = ['ioredis 6', 'ioredis 5', 'ioredis 6'];
      const fleet = await instances.take(3);
      const common = { maxWorkers: 8, rateLimit: { requestsPerSecond: 20 }, tasks: 12 };
      witness.reset(() => ({ holdMs: 20 }));
      const shared = await runFleet(fleet, scenarios(clients, { ...common, fleet: { name: fleetName() } }));
      expect(shared.reports.flatMap((report) => report.results).every((r) => r.status === 'done')).toBe(true);
      expect(witness.arrivals).toHaveLength(36);
      expect(new Set(witness.arrivals.map((a) => a.from))).toEqual(new Set(['p1', 'p2', 'p3']));
      expect(beyondBucket(witness.arrivals, shared.startedAt, REQUESTS.capacity, REQUESTS.perMs, () => 1)).toBeUndefined();

      // Without the coordinator each process has a bucket of its own: the fleet sends three times
      // the limit, and the same check catches it.
      witness.reset(() => ({ holdMs: 20 }));
      const alone = await runFleet(fleet, scenarios(clients, common));
      expect(witness.arrivals).toHaveLength(36);
      expect(beyondBucket(witness.arrivals, alone.startedAt, REQUESTS.capacity, REQUESTS.perMs, () => 1)).toBeDefined();
    }, 30_000);

    test('tokens: estimates reserved and corrected by reported usage across the fleet keep the tokens the server sees within one bucket', async () => {
      const clients: ClientName[] = ['node-redis 6', 'node-redis 5', 'node-redis 6'];
      const fleet = await instances.take(3);
      // 60,000 tokens a minute with a 1 s burst: a bucket of 983.6 tokens refilled 983.6 a second.
      const capacity = 60_000 / 61;
      const perMs = (60_000 - capacity) / 60_000;
      // Each task is estimated at 150 tokens and uses 100: the 50 it gives back is the fleet's again.
      const common = { maxWorkers: 8, rateLimit: { tokensPerMinute: 60_000 }, tasks: 10, cost: 150, tokens: 100 };
      witness.reset(() => ({ holdMs: 50 }));
      const shared = await runFleet(fleet, scenarios(clients, { ...common, fleet: { name: fleetName() } }));
      expect(shared.reports.flatMap((report) => report.results).every((r) => r.status === 'done')).toBe(true);
      expect(witness.arrivals).toHaveLength(30);
      expect(beyondBucket(witness.arrivals, shared.startedAt, capacity, perMs, (a) => a.tokens)).toBeUndefined();
      // Counted at 150 a task the fleet ran ahead of the bucket: the tokens given back were used.
      expect(beyondBucket(witness.arrivals, shared.startedAt, capacity, perMs, () => 150)).toBeDefined();

      witness.reset(() => ({ holdMs: 50 }));
      const alone = await runFleet(fleet, scenarios(clients, common));
      expect(witness.arrivals).toHaveLength(30);
      expect(beyondBucket(witness.arrivals, alone.startedAt, capacity, perMs, (a) => a.tokens)).toBeDefined();
    }, 30_000);
  });

  test("a 429 with a Retry-After answered to one process stops every process until it has passed", async () => {
    const clients: ClientName[] = ['ioredis 6', 'node-redis 6', 'ioredis 5'];
    const fleet = await instances.take(3);
    const RETRY_AFTER_MS = 2_000;
    // The seventh request, whoever sends it, is told to come back in 2 s.
    witness.reset((_, index) => (index === 6 ? { status: 429, headers: { 'retry-after-ms': String(RETRY_AFTER_MS), 'retry-after': '2' } } : { holdMs: 100 }));
    const { reports } = await runFleet(fleet, scenarios(clients, { fleet: { name: fleetName() }, maxWorkers: 2, tasks: 10, retries: 1 }));

    const limited = witness.arrivals[6] as Arrival;
    expect(limited.status).toBe(429);
    const told = limited.end;
    // Before it, all three were sending.
    expect(new Set(witness.arrivals.slice(0, 6).map((a) => a.from))).toEqual(new Set(['p1', 'p2', 'p3']));
    // After it, nobody: only requests already admitted when the pause reached Redis came in its first moments.
    expect(witness.arrivals.filter(between(told + 500, told + RETRY_AFTER_MS))).toEqual([]);
    // Then everyone again, the limited task's retry among them.
    for (const name of ['p1', 'p2', 'p3']) {
      expect(witness.arrivals.filter(from(name)).filter(between(told + RETRY_AFTER_MS, Infinity)).length).toBeGreaterThan(0);
    }
    const results = reports.flatMap((report) => report.results);
    expect(statuses(results)).toEqual({ done: 30 });
    expect(results.find((r) => r.id === limited.task)?.attempts).toBe(2);
    expect(witness.arrivals).toHaveLength(31);
  }, 30_000);

  test('a fleet budget of 20 requests: the server sees exactly 20, and the rest of every queue ends cancelled', async () => {
    const clients: ClientName[] = ['node-redis 6', 'ioredis 6', 'node-redis 5'];
    const fleet = await instances.take(3);
    witness.reset(() => ({ holdMs: 50 }));
    const { reports } = await runFleet(fleet, scenarios(clients, { fleet: { name: fleetName() }, maxWorkers: 3, budget: { requests: 20 }, tasks: 12 }));

    expect(witness.arrivals).toHaveLength(20);
    expect(witness.arrivals.every((a) => a.status === 200)).toBe(true);
    const results = reports.flatMap((report) => report.results);
    expect(statuses(results)).toEqual({ done: 20, cancelled: 16 });
    expect(results.filter((r) => r.status === 'cancelled').every((r) => r.error?.includes('budget exhausted (requests: 20 used of 20)'))).toBe(true);
    // Each task has exactly one result.
    expect(new Set(results.map((r) => r.id)).size).toBe(36);
  }, 30_000);

  test('processes whose clocks are 7 minutes slow and 7 minutes fast share the cap, the leases and the buckets exactly', async () => {
    const [slow, fast] = [(await instances.take(1, -MINUTES_7))[0], (await instances.take(1, MINUTES_7))[0]];
    const [right] = await instances.take(1);
    const fleet = [slow!, right!, fast!];
    const clients: ClientName[] = ['ioredis 6', 'node-redis 6', 'ioredis 6'];
    // requestsPerSecond: 10 makes a bucket of one request refilled 9 a second.
    const common = { fleet: { name: fleetName(), maxWorkers: 2, leaseMs: 1_000 }, maxWorkers: 4, rateLimit: { requestsPerSecond: 10 }, tasks: 6 };
    // The first request holds its slot 1.5 s, past its lease: only renewals keep it.
    witness.reset((_, index) => ({ holdMs: index === 0 ? 1_500 : 200 }));
    const { startedAt, reports } = await runFleet(fleet, scenarios(clients, common));

    expect(reports.map((report) => statuses(report.results))).toEqual([{ done: 6 }, { done: 6 }, { done: 6 }]);
    expect(witness.arrivals).toHaveLength(18);
    expect(witness.peak()).toBe(2);
    expect(beyondBucket(witness.arrivals, startedAt, 1, 9 / 1_000, () => 1)).toBeUndefined();
  }, 60_000);

  describe('Redis out of reach mid-run: every task ends in exactly one result', () => {
    const cases = [
      ['wait', 'frozen', 'ioredis 5'],
      ['wait', 'killed', 'node-redis 5'],
      ['local', 'frozen', 'node-redis 5'],
      ['local', 'killed', 'ioredis 5'],
      ['fail', 'frozen', 'ioredis 5'],
      ['fail', 'killed', 'node-redis 5'],
    ] as const;
    const TASKS = 25;

    for (const [mode, outage, third] of cases) {
      test(`onUnavailable '${mode}', Redis ${outage} for a second`, async () => {
        const clients: ClientName[] = ['ioredis 6', 'node-redis 6', third];
        const fleet = await instances.take(3);
        witness.reset(() => ({ holdMs: 100 }));
        // A task comes to each instance every 100 ms, as requests to a service would: 3 in flight
        // on average, under the fleet's cap of 4.
        const run = await startFleet(
          fleet,
          scenarios(clients, { fleet: { name: fleetName(), maxWorkers: 4, timeoutMs: 300, onUnavailable: mode }, maxWorkers: 2, tasks: TASKS, everyMs: 100 }),
        );
        await until(() => witness.arrivals.length >= 9, 10_000, 'nine requests before the outage');
        const down = performance.now();
        if (outage === 'frozen') {
          redis.server.freeze();
          await sleep(1_000);
          redis.server.thaw();
        } else {
          await redis.server.kill();
          await sleep(1_000);
          await redis.server.restart();
        }
        const up = performance.now();
        const reports = await run.reports;

        const results = reports.flatMap((report) => report.results);
        expect(new Set(results.map((r) => r.id)).size).toBe(3 * TASKS);
        expect(results).toHaveLength(3 * TASKS);
        const during = witness.arrivals.filter(between(down + 500, up));
        const after = witness.arrivals.filter(between(up, Infinity));
        // Each instance heard that Redis went away, and that it was back (unless, on its own limits, it
        // had finished its work before it looked again): down and up in turn.
        for (const report of reports) {
          expect(report.coordinator[0]).toBe(false);
          expect(report.coordinator.every((available, i) => available === (i % 2 === 1))).toBe(true);
          if (mode !== 'local') {
            expect(report.coordinator.at(-1)).toBe(true);
          }
        }
        if (mode === 'fail') {
          // Tasks waiting when Redis went away, and those that came meanwhile, failed at once, saying why.
          const failed = results.filter((r) => r.status === 'failed');
          expect(failed.length).toBeGreaterThan(0);
          expect(failed.every((r) => r.error?.includes('Redis is unavailable'))).toBe(true);
          expect(statuses(results)).toEqual({ done: 3 * TASKS - failed.length, failed: failed.length });
          // None of them reached the server; the others did, once each.
          expect(witness.arrivals).toHaveLength(3 * TASKS - failed.length);
        } else {
          expect(statuses(results)).toEqual({ done: 3 * TASKS });
          expect(witness.arrivals).toHaveLength(3 * TASKS);
        }
        if (mode === 'local') {
          // Every instance went on, on its own limits: never more than its own 2 at once.
          for (const name of ['p1', 'p2', 'p3']) {
            expect(during.filter(from(name)).length).toBeGreaterThan(0);
            expect(witness.peak(from(name))).toBeLessThanOrEqual(2);
          }
        } else {
          // Nothing started while Redis was out of reach, but what was admitted before.
          expect(during).toEqual([]);
        }
        // And work resumed by itself once Redis was back.
        expect(after.length).toBeGreaterThan(0);
      }, 30_000);
    }
  });

  // Last: it kills one of the file's instances.
  test('a SIGKILLed process holding every fleet slot gives them back within leaseMs plus a second', async () => {
    const LEASE_MS = 1_500;
    const [victim, ...others] = await instances.take(3);
    const clients: ClientName[] = ['ioredis 6', 'node-redis 6', 'ioredis 5'];
    const [doomed, ...waiting] = scenarios(clients, { fleet: { name: fleetName(), maxWorkers: 3, leaseMs: LEASE_MS }, maxWorkers: 3, tasks: 3 });
    // The victim's requests are never answered; the others' take 100 ms.
    witness.reset((arrival) => (arrival.from === 'p1' ? { until: new Promise(() => {}) } : { holdMs: 100 }));
    const run = await victim!.arm(doomed!);
    run.go();
    await until(() => witness.arrivals.length === 3, 10_000, "the victim's three requests");
    const runs = await Promise.all(others.map((instance, i) => instance.arm({ ...waiting[i]!, tasks: 4 })));
    for (const r of runs) {
      r.go();
    }
    // While the victim lives, its leases are renewed and nobody else gets a slot.
    await sleep(1_000);
    expect(witness.arrivals.filter(from('p2', 'p3'))).toEqual([]);

    const killed = performance.now();
    await victim!.kill();
    const reports = await Promise.all(runs.map((r) => r.done));
    expect(reports.map((report) => statuses(report.results))).toEqual([{ done: 4 }, { done: 4 }]);
    // The victim's requests ended with its process, unanswered.
    expect(witness.arrivals.filter(from('p1')).map((a) => a.status)).toEqual([undefined, undefined, undefined]);
    const first = Math.min(...witness.arrivals.filter(from('p2', 'p3')).map((a) => a.at));
    expect(first - killed).toBeLessThanOrEqual(LEASE_MS + 1_000);
    expect(witness.arrivals.filter(from('p2', 'p3'))).toHaveLength(8);
    expect(witness.peak()).toBe(3);
  }, 30_000);
});
