import { checkNumber, checkObject, checkOptions } from '../validate.js';
import { Bucket } from './bucket.js';

/** Per-key limits under `rateLimit.byKey`. */
export interface KeyRateLimit {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
}

/**
 * Smooth token buckets, refilled continuously; a task starts only when every bucket that applies allows
 * it. Each bucket holds `burstMs` worth of refill (at least one request), and starts full.
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

const positive = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a number > 0', (n) => n > 0 && n !== Infinity);

/** The buckets of one scope: the whole dispatcher, or one key. */
class Limits {
  readonly requests: Bucket[] = [];
  readonly tokens: Bucket | undefined;
  /** The whole per-minute token limit: a cost above it could never be served. */
  readonly tokensPerMinute: number;

  constructor(name: string, options: KeyRateLimit & { requestsPerSecond?: number }, burstMs: number, now: number) {
    const { requestsPerMinute, requestsPerSecond, tokensPerMinute } = options;
    for (const [rate, per, field] of [
      [requestsPerMinute, 60_000, 'requestsPerMinute'],
      [requestsPerSecond, 1_000, 'requestsPerSecond'],
    ] as const) {
      if (rate !== undefined) {
        const perMs = positive(`${name}.${field}`, rate) / per;
        this.requests.push(new Bucket(perMs, Math.max(1, perMs * burstMs), now));
      }
    }
    this.tokensPerMinute = tokensPerMinute === undefined ? Infinity : positive(`${name}.tokensPerMinute`, tokensPerMinute);
    const perMs = this.tokensPerMinute / 60_000;
    this.tokens = tokensPerMinute === undefined ? undefined : new Bucket(perMs, perMs * burstMs, now);
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
    const { byKey = {}, burstMs = 1_000, ...all } = checkOptions('rateLimit', options, [
      'requestsPerMinute',
      'requestsPerSecond',
      'tokensPerMinute',
      'burstMs',
      'byKey',
    ]) as RateLimitOptions;
    positive('rateLimit.burstMs', burstMs);
    this.#all = new Limits('rateLimit', all, burstMs, now);
    for (const [key, limits] of Object.entries(checkObject('rateLimit.byKey', byKey))) {
      const name = `rateLimit.byKey[${JSON.stringify(key)}]`;
      checkOptions(name, limits, ['requestsPerMinute', 'tokensPerMinute']);
      this.#byKey.set(key, new Limits(name, limits as KeyRateLimit, burstMs, now));
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

  /** Milliseconds until a task of `key` and `cost` may start; 0 when it may now. */
  waitMs(key: string, cost: number, now: number): number {
    return Math.max(this.#all.waitMs(cost, now), this.#byKey.get(key)?.waitMs(cost, now) ?? 0);
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
