import { now } from '../clock.js';
import type { Job } from '../core/job.js';
import type { Budget, Usage } from '../policies/budget.js';
import type { RateLimiter } from '../policies/rate-limit.js';
import type { Admission, AdmissionQueue } from './admission.js';
import type { DeadlineWatch } from './deadline.js';
import type { Pause } from './pause.js';

/** What a local admission tells the dispatcher. */
export interface LocalHost {
  /** Ends every queued and waiting job as cancelled, saying why (the budget is spent). */
  expire(reason: string): void;
  /** Ends everything, running jobs too (the deadline has come). */
  expireAll(reason: string): void;
  /** Something changed that may let a job start sooner (a refund). */
  poke(): void;
  /** Jobs queued or waiting to retry. */
  readonly pending: number;
}

/**
 * This process's own limits: the pause, the deadline, a budget and token-bucket rate limits with fair
 * turns between keys. Each start asks them all, at one reading of the clock.
 */
export class LocalAdmission implements Admission {
  readonly metered: boolean;
  /** The time of the start being decided, read once for every bucket. */
  #at = 0;
  /** Made once, not a closure per start. */
  readonly #check: ((job: Job) => number) | undefined;

  constructor(
    readonly pause: Pause,
    readonly deadline: DeadlineWatch | null,
    readonly budget: Budget | undefined,
    readonly limiter: RateLimiter | undefined,
    readonly host: LocalHost,
  ) {
    this.metered = budget !== undefined || limiter !== undefined;
    this.#check = limiter && ((job) => limiter.check(job.key, job.cost, this.#at));
  }

  get spent(): string | undefined {
    return this.budget?.exhausted;
  }

  next(queue: AdmissionQueue): Job | number {
    if (this.pause.held) {
      return Infinity;
    }
    const { budget, limiter, deadline } = this;
    const spent = budget?.exhausted;
    if (spent !== undefined) {
      this.host.expire(spent);
      return Infinity;
    }
    if (deadline !== null && deadline.timeLeft() <= 0) {
      this.host.expireAll(deadline.reason);
      return Infinity;
    }
    const at = (this.#at = now());
    const job = queue.take(this.#check);
    if (typeof job === 'number') {
      return job;
    }
    limiter?.take(job.key, job.cost, at);
    // The estimate counts at the start, so running work counts against the budget; corrected at the end.
    budget?.start(job.cost);
    return job;
  }

  /** Corrects the tokens reserved for an attempt by what it reported, and counts it against the budget. */
  ended(job: Job, usage: Usage | undefined): void {
    const { limiter, budget } = this;
    const used = usage?.totalTokens;
    if (limiter !== undefined && used !== undefined && Number.isFinite(used) && used !== job.cost) {
      limiter.correct(job.key, used - job.cost, now());
      if (used < job.cost) {
        // A refund may let a blocked job start sooner.
        this.host.poke();
      }
    }
    if (budget !== undefined) {
      budget.settle(job.cost, usage);
      if (budget.exhausted !== undefined && this.host.pending > 0) {
        this.host.expire(budget.exhausted);
      }
    }
  }

  refuse(job: Job): string | undefined {
    return this.limiter?.refuse(job.key, job.cost);
  }

  dropped(): void {}
}
