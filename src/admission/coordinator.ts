import type { Job } from '../core/job.js';
import type { Emitter } from '../events.js';
import type { BudgetOptions } from '../policies/budget.js';
import type { RateLimitOptions } from '../policies/rate-limit.js';
import type { Admission } from './admission.js';
import type { DeadlineWatch } from './deadline.js';
import type { Pause } from './pause.js';

export type { FleetRecords, UnfinishedTask } from './records.js';

/**
 * The method a coordinator plugs in by. A symbol, so that only a coordinator made for duta (such as
 * `duta/redis`'s) is one; `Symbol.for`, so that the ESM and CommonJS builds agree on it.
 */
export const ATTACH = Symbol.for('duta.coordinator.attach');

/** What a dispatcher hands the coordinator it is given. */
export interface CoordinatorHost {
  /** This dispatcher's pause: the coordinator applies the fleet's pause to it and shares its Retry-After pauses. */
  readonly pause: Pause;
  readonly deadline: DeadlineWatch | null;
  /** This dispatcher's own limits, as an admission: what a coordinator may fall back on. */
  readonly local: Admission;
  /** The limits the fleet shares, as the dispatcher was given them. */
  readonly rateLimit: RateLimitOptions | undefined;
  readonly budget: BudgetOptions | undefined;
  readonly maxWorkers: number;
  readonly events: Emitter;
  /** Jobs queued or waiting to retry. */
  readonly pending: number;
  /** Ends queued and waiting jobs as cancelled, saying why (a spent budget), but those `keep` says to keep. */
  expire(reason: string, keep?: (job: Job) => boolean): void;
  /** Ends everything, running jobs too (the deadline has come). */
  expireAll(reason: string): void;
  /** Ends queued and waiting jobs as failed with `error` (the coordinator cannot be reached). */
  fail(error: Error): void;
  /** Ends one queued or waiting job as failed with `error` (its id is in use on another instance). */
  failJob(job: Job, error: Error): void;
  /** Something changed that may let jobs start: asks for slots again. */
  poke(): void;
}

/**
 * Makes many dispatchers, in many processes, share their limits: `duta/redis`'s `redisCoordinator()`
 * makes one. A dispatcher given one asks it before each start.
 */
export interface Coordinator {
  /** Called once by each dispatcher given this coordinator: returns the admission that dispatcher asks. */
  [ATTACH](host: CoordinatorHost): Admission;
}

/** Whether `value` is a coordinator. */
export const isCoordinator = (value: unknown): value is Coordinator =>
  typeof (value as { [ATTACH]?: unknown } | null)?.[ATTACH] === 'function';
