import type { RateLimitOptions } from '../policies/rate-limit.js';
import type { BucketField } from './keys.js';

/** The fleet store's inputs and answers (see `FleetStore`). */

/** Caps on what the whole fleet may spend, as `budget` counts them for one dispatcher. */
export interface FleetBudget {
  /** Tokens: estimates while attempts run, reported usage once they end. */
  readonly tokens?: number;
  /** Attempts started, retries included. */
  readonly requests?: number;
  /** Money, as the caller prices each attempt. */
  readonly spend?: number;
}

/**
 * The limits one instance sends with every call. Every instance of a fleet should send the same:
 * Redis keeps no copy, so when they differ the buckets refill at the rate of whoever calls, each
 * caller reads them clamped to its own capacity, each admits against its own `maxWorkers` and budget
 * caps (the strictest instance stops first), leases last each instance's own `leaseMs`, and the
 * budget is kept for the last writer's `budgetTtlMs`.
 */
export interface FleetLimits {
  /** Attempts running at once across the fleet: an integer ≥ 1, or Infinity. @default Infinity */
  readonly maxWorkers?: number;
  /** How long an attempt's lease lasts unless renewed, in milliseconds. @default 30000 */
  readonly leaseMs?: number;
  /** Rate limits shared by the fleet, exactly as the dispatcher's `rateLimit` option. */
  readonly rateLimit?: RateLimitOptions;
  /** Budget caps shared by the fleet. A `spendOf` here is ignored: the caller prices usage. */
  readonly budget?: FleetBudget & { readonly spendOf?: unknown };
  /**
   * How long the fleet's budget counts (and its buckets' levels, kept with them) are kept after their
   * last change, in milliseconds: a fleet idle this long starts again from zero and full buckets.
   * @default 86400000 (24 h)
   */
  readonly budgetTtlMs?: number;
  /** How long the record of a finished task is kept, in milliseconds. @default 86400000 (24 h) */
  readonly resultTtlMs?: number;
}

/** An attempt that asks to start. */
export interface Candidate {
  /** Its lease id: unique per attempt across the fleet (see `FleetStore.lease()`). */
  readonly lease: string;
  /** The task's key ('' for none), which picks the key's own rate limits. */
  readonly key: string;
  /** The tokens it is estimated to use, reserved at the start. */
  readonly cost: number;
  /** Its estimated price, counted against `budget.spend` at the start. @default 0 */
  readonly spend?: number;
  /** The id of the task record it stands for, if its task is recorded: it is refused for good when another instance owns that id. */
  readonly record?: string;
}

/** A change to a task's record: new and pending (`'n'`), pending again (`'w'`), or ended (`'e'`) with its status and serialized result. */
export type RecordOp =
  | { readonly op: 'n' | 'w'; readonly id: string }
  | { readonly op: 'e'; readonly id: string; readonly status: string; readonly result: string };

/** A task's record as any instance reads it. */
export interface TaskRecord {
  /** 'pending', 'running', or how it ended; 'lost' when its instance stopped before it did. */
  readonly status: string;
  /** Attempts started. */
  readonly attempts: number;
  /** The serialized result, once it has ended ('' for a lost one). */
  readonly result: string;
}

/** An attempt that ended: what it reserved, as admitted, and what it reported. */
export interface Release {
  readonly lease: string;
  readonly key: string;
  /** The tokens reserved when it was admitted. */
  readonly cost: number;
  /** The price reserved when it was admitted. @default 0 */
  readonly spend?: number;
  /** The tokens it reported using; the reservation stands when undefined. */
  readonly used?: number;
  /** The price of what it used; the reserved price stands when undefined. */
  readonly usedSpend?: number;
}

/** Which budget cap is reached, with the figures for a message. */
export interface BudgetReached {
  readonly cap: 'tokens' | 'requests' | 'spend';
  readonly used: number;
  readonly limit: number;
  /** As the local budget words it: "budget exhausted (tokens: 5000 used of 5000)". */
  readonly message: string;
}

/** The answer to one `admit` call. */
export interface Admission {
  /** Per candidate, in the order given: whether it was admitted (it holds its lease now). */
  readonly admitted: readonly boolean[];
  /** Per candidate: refused for good, its task's id being unfinished on another live instance. */
  readonly conflicts: readonly boolean[];
  /** Per new record (`'n'`), in order: written (true), or refused because its id is in use elsewhere. */
  readonly recorded: readonly boolean[];
  /** Per release: whether its lease was still held, so its usage corrected the fleet's figures. */
  readonly released: readonly boolean[];
  /**
   * Milliseconds until asking again could admit a refused candidate: 0 when none was refused;
   * Infinity when the budget is spent. Releases elsewhere in the fleet are not announced, so a caller
   * refused for `slots` should also ask again sooner than this, on its own schedule.
   */
  readonly retryInMs: number;
  /** What stopped the walk, if anything: every candidate after it was refused. */
  readonly blocked: 'pause' | 'budget' | 'slots' | 'rate' | undefined;
  /** The fleet pause left, in milliseconds (0 when none). */
  readonly pausedForMs: number;
  /** The budget cap reached, if one is, after this call's releases and admissions. */
  readonly exhausted: BudgetReached | undefined;
  /** Leases held across the fleet after this call. */
  readonly leases: number;
  /** Redis's clock at the call, in milliseconds. */
  readonly serverTimeMs: number;
}

/** The answer to one `renew` call. */
export interface Renewal {
  /** The leases no longer held (run out and reclaimed): their attempts are lost to the fleet. */
  readonly lost: readonly string[];
  readonly serverTimeMs: number;
}

/** A look at the fleet's shared state. */
export interface FleetStatus {
  readonly serverTimeMs: number;
  /** Leases held (not run out). */
  readonly leases: number;
  readonly pausedForMs: number;
  /** What the budget has counted so far. */
  readonly used: { readonly tokens: number; readonly requests: number; readonly spend: number };
  /** Every bucket of the limits: shared ones with `key` undefined. */
  readonly buckets: readonly { readonly key: string | undefined; readonly field: BucketField; readonly level: number; readonly capacity: number }[];
}
