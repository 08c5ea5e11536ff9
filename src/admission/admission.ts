import type { Job } from '../core/job.js';
import type { Usage } from '../policies/budget.js';
import type { FleetRecords } from './records.js';
import type { Pause } from './pause.js';

/** The queued jobs as an admission sees them: in fair turns between keys, highest priority first. */
export interface AdmissionQueue {
  /**
   * Takes the next job, by turns, whose `check(job)` is 0 (every job, without `check`). A positive
   * check skips that key's turn; a negative one ends the search. When none can start, returns the
   * shortest wait in milliseconds: `Infinity` when nothing is queued.
   */
  take(check?: (job: Job) => number): Job | number;
  /** Puts back a job taken but not admitted, ahead of the newer ones of its key and priority. */
  unshift(job: Job): void;
}

/**
 * Whatever decides whether a queued job may start now: the pause, the deadline, rate limits, a budget,
 * or a fleet coordinator that answers asynchronously and may admit several jobs at once. The slot loop
 * knows only this interface.
 */
export interface Admission {
  /**
   * The next job that may start, taken from `queue` with whatever it needs reserved. When none may:
   * the milliseconds until one might (`Infinity`: not by time alone, but when something changes), or a
   * promise that settles once an answer from elsewhere is in, after which the loop asks again.
   * `free` is how many slots could start jobs now: an admission that asks elsewhere may ask for that many.
   */
  next(queue: AdmissionQueue, free: number): Job | number | Promise<unknown>;
  /** Whether `ended` wants each attempt's usage (rate limits and budgets do): when false, it is not worked out. */
  readonly metered: boolean;
  /** An attempt of a job this admission let start has ended, with the usage it reported, if any. */
  ended(job: Job, usage: Usage | undefined): void;
  /** Why a job can never start (its cost is above a whole limit), checked as it is queued; undefined when it can. */
  refuse(job: Job): string | undefined;
  /** Which budget cap is reached, as an error's words, or undefined while none is. */
  readonly spent: string | undefined;
  /** A queued job ended without starting (cancelled): anything reserved for it is given back. */
  dropped(job: Job): void;
  /** The dispatcher is idle (nothing queued, running or waiting): an admission holds no timer then. */
  idle?(): void;
  /** A job it let start waits to retry, holding no slot. */
  waiting?(job: Job): void;
  /** The fleet-wide task records, when the admission keeps them (a fleet coordinator). */
  readonly records?: FleetRecords;
}

/** The admission of a dispatcher without limits: only a pause stops a start. Costs nothing per task. */
export class OpenAdmission implements Admission {
  readonly metered = false;
  readonly spent = undefined;

  constructor(readonly pause: Pause) {}

  next(queue: AdmissionQueue): Job | number {
    return this.pause.held ? Infinity : queue.take();
  }

  ended(): void {}

  refuse(): undefined {
    return undefined;
  }

  dropped(): void {}
}
