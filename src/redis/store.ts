import { rateLimitSpecs, type ScopeSpecs } from '../policies/rate-limit.js';
import { checkCount, checkOptions, checkString, invalidType } from '../validate.js';
import { RedisLink } from './client.js';
import { FleetKeys } from './keys.js';
import type { Admission, BudgetReached, Candidate, FleetBudget, FleetLimits, FleetStatus, RecordOp, Release, Renewal, TaskRecord } from './types.js';
import * as scripts from './scripts.generated.js';
import {
  cap,
  checkKey,
  checkList,
  decode,
  DEFAULT_BUDGET_TTL_MS,
  DEFAULT_LEASE_MS,
  DEFAULT_RESULT_TTL_MS,
  encode,
  finiteAtLeast0,
  finitePositive,
  type FleetBucket,
  flags,
  instanceId,
  strings,
} from './wire.js';

/**
 * One fleet's shared limits in Redis: leases for a fleet-wide cap, token buckets, a budget and a
 * pause, each decision one atomic script call. The store keeps no state of the fleet itself: what
 * an instance reserved travels back with its release, and the limits travel with every call.
 * Needs Redis 6.2 or later (ZMSCORE), standalone or Cluster.
 */
export class FleetStore {
  readonly name: string;
  readonly keys: FleetKeys;
  readonly maxWorkers: number;
  readonly leaseMs: number;
  readonly budgetTtlMs: number;
  readonly resultTtlMs: number;
  readonly #link: RedisLink;
  readonly #shared: FleetBucket[];
  readonly #byKey = new Map<string, FleetBucket[]>();
  /** leaseMs, maxWorkers, the budget caps and budgetTtlMs, as every admit sends them. */
  readonly #head: string[];
  readonly #instance = instanceId();
  #leases = 0;

  constructor(link: RedisLink, name: string, limits: FleetLimits = {}) {
    if (!(link instanceof RedisLink)) {
      invalidType('link', 'a RedisLink', link);
    }
    this.#link = link;
    this.name = checkString('name', name);
    this.keys = new FleetKeys(name);
    const {
      maxWorkers = Infinity,
      leaseMs = DEFAULT_LEASE_MS,
      rateLimit,
      budget = {},
      budgetTtlMs = DEFAULT_BUDGET_TTL_MS,
      resultTtlMs = DEFAULT_RESULT_TTL_MS,
    } = checkOptions('limits', limits, ['maxWorkers', 'leaseMs', 'rateLimit', 'budget', 'budgetTtlMs', 'resultTtlMs']) as FleetLimits;
    this.maxWorkers = checkCount('maxWorkers', maxWorkers);
    this.leaseMs = finitePositive('leaseMs', leaseMs);
    this.budgetTtlMs = finitePositive('budgetTtlMs', budgetTtlMs);
    this.resultTtlMs = finitePositive('resultTtlMs', resultTtlMs);
    const { tokens, requests, spend } = checkOptions('budget', budget, ['tokens', 'requests', 'spend', 'spendOf']) as FleetBudget;
    const caps = [cap('budget.tokens', tokens), cap('budget.requests', requests), cap('budget.spend', spend)];
    this.#head = [this.leaseMs, this.maxWorkers, ...caps, this.budgetTtlMs].map(encode);
    const specs = rateLimitSpecs(rateLimit ?? {});
    this.#shared = this.#buckets(undefined, specs.all);
    for (const [key, scope] of specs.byKey) {
      this.#byKey.set(key, this.#buckets(key, scope));
    }
  }

  #buckets(key: string | undefined, scope: ScopeSpecs): FleetBucket[] {
    const buckets: FleetBucket[] = scope.requests.map(({ field, perMs, capacity }) => ({
      id: FleetKeys.bucket(key, field),
      key,
      field,
      kind: 'r',
      perMs,
      capacity,
    }));
    if (scope.tokens !== undefined) {
      const { perMs, capacity } = scope.tokens;
      buckets.push({ id: FleetKeys.bucket(key, 'tokensPerMinute'), key, field: 'tokensPerMinute', kind: 't', perMs, capacity });
    }
    return buckets;
  }

  /** This store's instance id: its leases and the task records it owns carry it. */
  get instance(): string {
    return this.#instance;
  }

  /** A new lease id, unique across the fleet: this process's random id and a counter. */
  lease(): string {
    return `${this.#instance}:${(this.#leases++).toString(36)}`;
  }

  /**
   * In one round trip: releases `releases` (correcting the fleet's buckets and budget by their
   * reported usage, once each), reclaims leases that ran out, and admits `candidates` in the order
   * given, each all or nothing. See `scripts/admit.lua` for the rules of the walk.
   */
  async admit(releases: readonly Release[], candidates: readonly Candidate[], records: readonly RecordOp[] = []): Promise<Admission> {
    const keys = [this.keys.leases, this.keys.pause, this.keys.state, this.keys.instances, this.keys.waiters];
    // Each record's key once in KEYS, named by its index there.
    const keyIndex = new Map<string, number>();
    const indexOf = (id: string): string => {
      let index = keyIndex.get(id);
      if (index === undefined) {
        index = keys.push(this.keys.record(id));
        keyIndex.set(id, index);
      }
      return String(index);
    };
    const recordArgs: string[] = [];
    for (const record of records) {
      recordArgs.push(record.op, indexOf(record.id));
      if (record.op === 'e') {
        recordArgs.push(record.status, record.result);
      }
    }
    const bucketArgs: string[] = [];
    let bucketCount = 0;
    const add = (scope: number, buckets: readonly FleetBucket[]): void => {
      for (const bucket of buckets) {
        bucketCount++;
        bucketArgs.push(String(scope), bucket.kind, bucket.id, encode(bucket.perMs), encode(bucket.capacity));
      }
    };
    add(0, this.#shared);
    // Scopes are numbered per call, only for the keys with limits of their own that this call touches.
    const scopes = new Map<string, number>();
    const scopeOf = (key: string): string => {
      const buckets = this.#byKey.get(key);
      if (buckets === undefined) {
        return '0';
      }
      let scope = scopes.get(key);
      if (scope === undefined) {
        scope = scopes.size + 1;
        scopes.set(key, scope);
        add(scope, buckets);
      }
      return String(scope);
    };

    const releaseArgs: string[] = [];
    checkList('releases', releases).forEach((release: Release, i) => {
      const name = `releases[${i}]`;
      const { lease, key, cost, spend = 0, used, usedSpend } = checkOptions(name, release, ['lease', 'key', 'cost', 'spend', 'used', 'usedSpend']) as Release;
      checkString(`${name}.lease`, lease);
      checkKey(`${name}.key`, key);
      finiteAtLeast0(`${name}.cost`, cost);
      finiteAtLeast0(`${name}.spend`, spend);
      const tokens = used === undefined ? 0 : finiteAtLeast0(`${name}.used`, used) - cost;
      const price = usedSpend === undefined ? 0 : finiteAtLeast0(`${name}.usedSpend`, usedSpend) - spend;
      releaseArgs.push(lease, scopeOf(key), encode(tokens), encode(price));
    });

    const candidateArgs: string[] = [];
    const seen = new Set<string>();
    checkList('candidates', candidates).forEach((candidate: Candidate, i) => {
      const name = `candidates[${i}]`;
      const { lease, key, cost, spend = 0, record } = checkOptions(name, candidate, ['lease', 'key', 'cost', 'spend', 'record']) as Candidate;
      if (seen.has(checkString(`${name}.lease`, lease))) {
        throw new RangeError(`Expected \`${name}.lease\` to be unique in the batch, got ${JSON.stringify(lease)} twice`);
      }
      seen.add(lease);
      checkKey(`${name}.key`, key);
      candidateArgs.push(
        lease,
        scopeOf(key),
        encode(finiteAtLeast0(`${name}.cost`, cost)),
        encode(finiteAtLeast0(`${name}.spend`, spend)),
        record === undefined ? '0' : indexOf(record),
      );
    });

    const args = [
      ...this.#head,
      this.#instance,
      encode(this.resultTtlMs),
      String(bucketCount),
      ...bucketArgs,
      String(releases.length),
      ...releaseArgs,
      String(records.length),
      ...recordArgs,
      String(candidates.length),
      ...candidateArgs,
    ];
    const [admitted, released, retry, paused, blocked, reached, used, limit, now, held, recorded] = strings(
      'admit',
      await this.#link.run(scripts.admit, keys, args),
      11,
    ) as [string, string, string, string, string, string, string, string, string, string, string];
    let exhausted: BudgetReached | undefined;
    if (reached !== '') {
      const figures = { cap: reached as BudgetReached['cap'], used: decode(used), limit: decode(limit) };
      exhausted = { ...figures, message: `budget exhausted (${figures.cap}: ${figures.used} used of ${figures.limit})` };
    }
    return {
      admitted: flags(admitted),
      conflicts: Array.from(admitted, (flag) => flag === 'x'),
      recorded: flags(recorded),
      released: flags(released),
      retryInMs: decode(retry),
      blocked: blocked === '' ? undefined : (blocked as Admission['blocked']),
      pausedForMs: decode(paused),
      exhausted,
      leases: Number(held),
      serverTimeMs: decode(now),
    };
  }

  /**
   * Extends `leases` to `leaseMs` from now, in one round trip; call it for all of this instance's
   * running attempts well within `leaseMs` (a third of it, say). Resolves with the leases that were no
   * longer held: they ran out, and their slots may already be someone else's.
   */
  async renew(leases: readonly string[]): Promise<Renewal> {
    checkList('leases', leases).forEach((lease, i) => checkString(`leases[${i}]`, lease));
    const [held, now] = strings(
      'renew',
      await this.#link.run(scripts.renew, [this.keys.leases, this.keys.instances], [encode(this.leaseMs), this.#instance, ...leases]),
      2,
    ) as [
      string,
      string,
    ];
    return { lost: leases.filter((_, i) => held[i] !== '1'), serverTimeMs: decode(now) };
  }

  /**
   * Pauses admissions fleet-wide for `ms` (a Retry-After), unless a longer pause is in place; resolves
   * with the pause left in force, in milliseconds. `pause(0)` only reads it.
   */
  async pause(ms: number): Promise<number> {
    finiteAtLeast0('ms', ms);
    const [left] = strings('pause', await this.#link.run(scripts.pause, [this.keys.pause], [encode(ms)]), 2) as [string];
    return decode(left);
  }

  /**
   * The records of these tasks, wherever they were submitted: undefined for an id no instance recorded
   * (or whose record expired). An unfinished record whose owner is no longer alive comes back lost.
   */
  async lookup(ids: readonly string[]): Promise<(TaskRecord | undefined)[]> {
    checkList('ids', ids).forEach((id, i) => checkString(`ids[${i}]`, id));
    if (ids.length === 0) {
      return [];
    }
    const reply = strings(
      'lookup',
      await this.#link.run(scripts.lookup, [this.keys.instances, ...ids.map((id) => this.keys.record(id))], [encode(this.resultTtlMs)]),
      3 * ids.length + 1,
    );
    return ids.map((_, i) => {
      const status = reply[3 * i] as string;
      return status === '' ? undefined : { status, attempts: Number(reply[3 * i + 1]), result: reply[3 * i + 2] as string };
    });
  }

  /** A read-only look at the fleet's state: leases held, the pause, the budget's count, every bucket's level. */
  async status(): Promise<FleetStatus> {
    const buckets = [...this.#shared, ...[...this.#byKey.values()].flat()];
    const reply = strings(
      'status',
      await this.#link.run(
        scripts.status,
        [this.keys.leases, this.keys.pause, this.keys.state],
        [String(buckets.length), ...buckets.flatMap((bucket) => [bucket.id, encode(bucket.perMs), encode(bucket.capacity)])],
      ),
      6 + buckets.length,
    );
    const [now, held, paused, tokens, requests, spend] = reply.slice(0, 6).map(decode) as [number, number, number, number, number, number];
    return {
      serverTimeMs: now,
      leases: held,
      pausedForMs: paused,
      used: { tokens, requests, spend },
      buckets: buckets.map(({ key, field, capacity }, i) => ({ key, field, level: decode(reply[6 + i] as string), capacity })),
    };
  }
}
