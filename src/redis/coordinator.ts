import { ATTACH, type Coordinator, type CoordinatorHost } from '../admission/coordinator.js';
import type { Admission } from '../admission/admission.js';
import type { Usage } from '../policies/budget.js';
import { checkCount, checkNumber, checkOptions, checkString, checkType, invalidType, invalidValue } from '../validate.js';
import { type RedisClientLike, RedisLink } from './client.js';
import { FleetAdmission, type Unavailable } from './fleet.js';
import type { Codec } from './records.js';
import { FleetStore } from './store.js';

/** What `redisCoordinator()` takes: the connection, the fleet's name, and how the fleet behaves. */
export interface RedisCoordinatorOptions {
  /** An ioredis client (v5/v6, `Redis` or `Cluster`) or a connected node-redis client (v5/v6). */
  readonly client: RedisClientLike;
  /** Every dispatcher given a coordinator of this name shares its limits: a non-empty string. */
  readonly name: string;
  /** Attempts running at once across the whole fleet: an integer ≥ 1, or `Infinity`. @default Infinity */
  readonly maxWorkers?: number;
  /** A running attempt's lease in milliseconds, renewed while it runs; a dead instance's slots come back when it runs out. @default 30_000 */
  readonly leaseMs?: number;
  /**
   * When Redis cannot be reached: `'wait'` starts nothing until it is back; `'local'` runs tasks on this
   * dispatcher's own limits meanwhile; `'fail'` ends queued tasks at once as failed. @default 'wait'
   */
  readonly onUnavailable?: Unavailable;
  /** The time limit of each Redis call in milliseconds: a hung server is detected, not waited on. @default 2_000 */
  readonly timeoutMs?: number;
  /** How long the fleet's budget counts and bucket levels are kept after their last change, in milliseconds. @default 86_400_000 (24 h) */
  readonly budgetTtlMs?: number;
  /** How long the records of finished submitted tasks are kept for `lookup` and `waitFor` anywhere, in milliseconds. @default 86_400_000 (24 h) */
  readonly resultTtlMs?: number;
  /** Turns a task's result value into the text its record keeps (superjson's or devalue's `stringify`, say). @default JSON.stringify */
  readonly serialize?: (value: unknown) => string;
  /** Turns that text back into the value, on the instance that looks it up. @default JSON.parse */
  readonly deserialize?: (text: string) => unknown;
}

const known = ['client', 'name', 'maxWorkers', 'leaseMs', 'onUnavailable', 'timeoutMs', 'budgetTtlMs', 'resultTtlMs', 'serialize', 'deserialize'];

/** JSON, except that `undefined` (which JSON.stringify gives no text for) is kept as null. */
const json: Codec = {
  serialize: (value) => JSON.stringify(value) ?? 'null',
  deserialize: (text) => JSON.parse(text) as unknown,
};

/**
 * Shares `rateLimit`, `budget`, a fleet-wide cap on running attempts and the Retry-After pause between
 * every dispatcher given a coordinator of the same name, through Redis. Made by `redisCoordinator()`.
 */
export class RedisCoordinator implements Coordinator {
  readonly name: string;
  readonly maxWorkers: number;
  readonly leaseMs: number;
  readonly onUnavailable: Unavailable;
  readonly budgetTtlMs: number | undefined;
  readonly resultTtlMs: number | undefined;
  readonly #codec: Codec;
  readonly #link: RedisLink;

  constructor(options: RedisCoordinatorOptions) {
    const { client, name, maxWorkers = Infinity, leaseMs = 30_000, onUnavailable = 'wait', timeoutMs, budgetTtlMs, resultTtlMs, serialize, deserialize } = checkOptions(
      'options',
      options,
      known,
    ) as RedisCoordinatorOptions;
    this.name = checkString('name', name);
    this.maxWorkers = checkCount('maxWorkers', maxWorkers);
    this.leaseMs = checkNumber('leaseMs', leaseMs, 'a finite number > 0', (n) => n > 0 && n !== Infinity);
    if (onUnavailable !== 'wait' && onUnavailable !== 'local' && onUnavailable !== 'fail') {
      (typeof onUnavailable === 'string' ? invalidValue : invalidType)('onUnavailable', "'wait', 'local' or 'fail'", onUnavailable);
    }
    this.onUnavailable = onUnavailable;
    if (budgetTtlMs !== undefined) {
      checkNumber('budgetTtlMs', budgetTtlMs, 'a finite number > 0', (n) => n > 0 && n !== Infinity);
    }
    this.budgetTtlMs = budgetTtlMs;
    if (resultTtlMs !== undefined) {
      checkNumber('resultTtlMs', resultTtlMs, 'a finite number > 0', (n) => n > 0 && n !== Infinity);
    }
    this.resultTtlMs = resultTtlMs;
    this.#codec = {
      serialize: serialize === undefined ? json.serialize : checkType('serialize', serialize, 'function'),
      deserialize: deserialize === undefined ? json.deserialize : checkType('deserialize', deserialize, 'function'),
    };
    this.#link = new RedisLink(client, timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** Redis round trips made so far (a script call is one, whatever it does inside). */
  get roundTrips(): number {
    return this.#link.roundTrips;
  }

  [ATTACH](host: CoordinatorHost): Admission {
    const { rateLimit, budget } = host;
    const store = new FleetStore(this.#link, this.name, {
      maxWorkers: this.maxWorkers,
      leaseMs: this.leaseMs,
      ...(rateLimit !== undefined && { rateLimit }),
      ...(budget !== undefined && { budget }),
      ...(this.budgetTtlMs !== undefined && { budgetTtlMs: this.budgetTtlMs }),
      ...(this.resultTtlMs !== undefined && { resultTtlMs: this.resultTtlMs }),
    });
    return new FleetAdmission(store, host, this.onUnavailable, budget?.spendOf as ((usage: Usage) => number) | undefined, this.#codec);
  }
}

/**
 * A coordinator for `new Dispatcher({ coordinator })`: every dispatcher given one of the same `name`,
 * in any process, shares its rate limits, budget and Retry-After pause, and `maxWorkers` caps the
 * attempts running across all of them. Options are checked here, before anything touches Redis.
 */
export function redisCoordinator(options: RedisCoordinatorOptions): RedisCoordinator {
  return new RedisCoordinator(options);
}
