import { checkNumber, checkObject, checkOptions } from '../validate.js';
import { Bucket } from './bucket.js';

/** Per-key limits under `rateLimit.byKey`. */
export interface KeyRateLimit {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
}

/**
 * Smooth token buckets, refilled continuously; a task starts only when every bucket that applies allows
 * it. Each bucket holds `burstMs` worth of refill (at least one request), starts full, and refills just
 * slowly enough that no window of the limit's length (a minute, a second), burst included, holds more
 * than the limit.
 */
export interface RateLimitOptions {
  readonly requestsPerMinute?: number;
  readonly requestsPerSecond?: number;
  /** Tokens per minute, charged with a task's `cost` at its start and corrected by its reported usage. */
  readonly tokensPerMinute?: number;
  /** The burst each bucket allows, as milliseconds of refill. @default 1000 */
  readonly burstMs?: number;
  /** Limits of their own for tasks with these `key`s, on top of the ones above. */
  readonly byKey?: { readonly [key: string]: KeyRateLimit };
}

/** The short names providers' headers and dashboards use. */
const aliases = { rpm: 'requestsPerMinute', rps: 'requestsPerSecond', tpm: 'tokensPerMinute' };

const positive = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a number > 0', (n) => n > 0 && n !== Infinity);

/** A bucket's refill rate and size: what a local bucket is built from, and what a fleet bucket is sent. */
export interface BucketSpec {
  /** Refill, in units (requests or tokens) a millisecond. */
  readonly perMs: number;
  /** The most the bucket holds, and what it starts with. */
  readonly capacity: number;
}

/**
 * A bucket that keeps "at most `limit` in any `windowMs`", as a provider's sliding window counts it,
 * with a burst of `burstMs` worth of refill: capacity C plus a window's refill r·W must not pass the
 * limit, so r = (limit − C) / W and C = limit · burstMs / (W + burstMs), at least `minBurst`. For a
 * per-minute limit and a 1 s burst that is 98.4 % of the nominal rate, and no window ever overflows.
 */
export function windowSpec(limit: number, windowMs: number, burstMs: number, minBurst: number): BucketSpec {
  const capacity = Math.max(minBurst, (limit * burstMs) / (windowMs + burstMs));
  // A limit under two requests cannot hold both a burst of one and a full refill: half the rate keeps it.
  return { perMs: Math.max(limit - capacity, limit / 2) / windowMs, capacity };
}

/** The specs of one scope's buckets (the whole dispatcher, or one key), each named by its option. */
export interface ScopeSpecs {
  readonly requests: readonly (BucketSpec & { readonly field: 'requestsPerMinute' | 'requestsPerSecond' })[];
  readonly tokens: BucketSpec | undefined;
  /** The whole per-minute token limit: a cost above it could never be served. */
  readonly tokensPerMinute: number;
}

/** Checks one scope's limits and computes its buckets' specs. */
function scopeSpecs(name: string, options: KeyRateLimit & { requestsPerSecond?: number }, burstMs: number): ScopeSpecs {
  const { requestsPerMinute, requestsPerSecond, tokensPerMinute } = options;
  const requests: ScopeSpecs['requests'][number][] = [];
  for (const [rate, per, field] of [
    [requestsPerMinute, 60_000, 'requestsPerMinute'],
    [requestsPerSecond, 1_000, 'requestsPerSecond'],
  ] as const) {
    if (rate !== undefined) {
      // A burst of at most a tenth of the window: a second's burst in a one-second window would halve the rate.
      requests.push({ field, ...windowSpec(positive(`${name}.${field}`, rate), per, Math.min(burstMs, per / 10), 1) });
    }
  }
  const perMinute = tokensPerMinute === undefined ? Infinity : positive(`${name}.tokensPerMinute`, tokensPerMinute);
  return { requests, tokens: tokensPerMinute === undefined ? undefined : windowSpec(perMinute, 60_000, burstMs, 0), tokensPerMinute: perMinute };
}

/** Every bucket spec of a `rateLimit` option: the shared scope's and each key's. */
export interface RateLimitSpecs {
  readonly all: ScopeSpecs;
  readonly byKey: ReadonlyMap<string, ScopeSpecs>;
}

/**
 * Checks a `rateLimit` option and computes its buckets, as the local limiter builds them and a fleet
 * store sends them to Redis, so the two agree to the token.
 */
export function rateLimitSpecs(options: unknown): RateLimitSpecs {
  const { byKey = {}, burstMs = 1_000, ...all } = checkOptions(
    'rateLimit',
    options,
    ['requestsPerMinute', 'requestsPerSecond', 'tokensPerMinute', 'burstMs', 'byKey'],
    { ...aliases, perKey: 'byKey', keys: 'byKey' },
  ) as RateLimitOptions;
  positive('rateLimit.burstMs', burstMs);
  const specs = { all: scopeSpecs('rateLimit', all, burstMs), byKey: new Map<string, ScopeSpecs>() };
  for (const [key, limits] of Object.entries(checkObject('rateLimit.byKey', byKey))) {
    const name = `rateLimit.byKey[${JSON.stringify(key)}]`;
    checkOptions(name, limits, ['requestsPerMinute', 'tokensPerMinute'], aliases);
    specs.byKey.set(key, scopeSpecs(name, limits as KeyRateLimit, burstMs));
  }
  return specs;
}

const bucketOf = ({ perMs, capacity }: BucketSpec, now: number): Bucket => new Bucket(perMs, capacity, now);

/** The buckets of one scope: the whole dispatcher, or one key. */
class Limits {
  readonly requests: Bucket[] = [];
  readonly tokens: Bucket | undefined;
  /** The whole per-minute token limit: a cost above it could never be served. */
  readonly tokensPerMinute: number;

  constructor(specs: ScopeSpecs, now: number) {
    for (const spec of specs.requests) {
      this.requests.push(bucketOf(spec, now));
    }
    this.tokensPerMinute = specs.tokensPerMinute;
    this.tokens = specs.tokens === undefined ? undefined : bucketOf(specs.tokens, now);
  }

  waitMs(cost: number, now: number): number {
    let wait = this.tokens?.waitMs(cost, now) ?? 0;
    for (const bucket of this.requests) {
      wait = Math.max(wait, bucket.waitMs(1, now));
    }
    return wait;
  }

  take(cost: number, now: number): void {
    this.tokens?.take(cost, now);
    for (const bucket of this.requests) {
      bucket.take(1, now);
    }
  }
}

/** The dispatcher's buckets and each key's. */
export class RateLimiter {
  readonly #all: Limits;
  readonly #byKey = new Map<string, Limits>();

  constructor(options: unknown, now: number) {
    const specs = rateLimitSpecs(options);
    this.#all = new Limits(specs.all, now);
    for (const [key, scope] of specs.byKey) {
      this.#byKey.set(key, new Limits(scope, now));
    }
  }

  /** Why a task of this cost can never start, or undefined when it can. */
  refuse(key: string, cost: number): string | undefined {
    for (const [limits, scope] of [[this.#all, 'rateLimit.tokensPerMinute'], [this.#byKey.get(key), `rateLimit.byKey[${JSON.stringify(key)}].tokensPerMinute`]] as const) {
      if (limits !== undefined && cost > limits.tokensPerMinute) {
        return `its cost of ${cost} tokens is more than the whole per-minute token limit (${scope}: ${limits.tokensPerMinute})`;
      }
    }
    return undefined;
  }

  /**
   * Whether a task of `key` and `cost` may start now: 0 if it may; the milliseconds its key's own
   * buckets need, if they stop it (other keys may go meanwhile); minus the milliseconds the shared
   * buckets need, if only they stop it: then nobody else may take from them before it, or cheaper
   * tasks of other keys would keep a big one waiting for ever.
   */
  check(key: string, cost: number, now: number): number {
    const own = this.#byKey.get(key)?.waitMs(cost, now) ?? 0;
    return own > 0 ? own : -this.#all.waitMs(cost, now);
  }

  /** Takes one request and `cost` tokens from every bucket that applies. */
  take(key: string, cost: number, now: number): void {
    this.#all.take(cost, now);
    this.#byKey.get(key)?.take(cost, now);
  }

  /** Corrects the tokens charged for a task: `delta` > 0 charges more, < 0 refunds. */
  correct(key: string, delta: number, now: number): void {
    this.#all.tokens?.take(delta, now);
    this.#byKey.get(key)?.tokens?.take(delta, now);
  }
}
