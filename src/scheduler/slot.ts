import { now, setTimer, type Timer } from '../clock.js';
import { type FailureStatus, failure, messageOf, success } from '../result.js';
import { track } from '../task.js';
import { Attempt } from './attempt.js';
import { type Job, RUNNING } from './job.js';
import type { Scheduler } from './scheduler.js';

const onTimeout = (slot: Slot): void => {
  const job = slot.job as Job;
  const error = `task ${JSON.stringify(job.id)} timed out after ${job.timeoutMs} ms`;
  slot.abort('timeout', new DOMException(error, 'TimeoutError'), error);
};

/** The grace is over and the aborted function still runs: this slot is abandoned and a fresh one carries on. */
const onGrace = (slot: Slot): void => {
  (slot.job as Job).slot = null;
  slot.job = null;
  slot.scheduler.finished();
  new Slot(slot.scheduler, slot.release).next();
};

/**
 * One slot granted by p-limit: it runs queued jobs back to back, one at a time, and gives the slot
 * back (`release`) when nothing is left to start. Its settle handlers are made once per slot, not per
 * task, and a timer gets the slot as its argument rather than a closure.
 *
 * An aborted job (timed out or cancelled) has its result recorded at the abort, while the slot stays
 * held until the function settles or `abortGraceMs` runs out: cooperative tasks never push real
 * concurrency above the cap, and uncooperative ones cannot wedge the dispatcher.
 */
export class Slot {
  /** The job running here; null once the slot has moved on or been abandoned. */
  job: Job | null = null;
  #attempt: Attempt | null = null;
  #startedAt = 0;
  #timer: Timer;

  constructor(
    readonly scheduler: Scheduler,
    readonly release: () => void,
  ) {}

  /** Runs queued jobs until one is pending on a promise (its handler resumes here) or none is left. */
  next(): void {
    for (let job = this.scheduler.take(); job !== undefined; job = this.scheduler.take()) {
      if (this.#start(job)) {
        return;
      }
    }
    this.scheduler.leave();
    this.release();
  }

  /** Ends the running job now as timed out or cancelled, aborting its signal with `reason`. */
  abort(status: 'timeout' | 'cancelled', reason: unknown, error: string): void {
    const job = this.job as Job;
    if (job.state !== RUNNING) {
      return;
    }
    clearTimeout(this.#timer);
    this.#record(job, status, reason, error);
    Attempt.abort(this.#attempt as Attempt, reason);
    this.#timer = setTimer(this.scheduler.abortGraceMs, onGrace, this);
  }

  /** Starts `job`; returns true when it is pending on a promise. */
  #start(job: Job): boolean {
    this.job = job;
    job.slot = this;
    job.state = RUNNING;
    const attempt = (this.#attempt = new Attempt(job.id, ++job.attempts));
    if (job.task !== null) {
      track(job.task, 'running');
    }
    this.#startedAt = now();
    this.#timer = setTimer(job.timeoutMs, onTimeout, this);
    let value: unknown;
    try {
      // No spread for the common task without arguments.
      value = job.args.length === 0 ? job.func(attempt) : job.func(...job.args, attempt);
      if (typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
        Promise.resolve(value).then(this.#onValue, this.#onError);
        return true;
      }
    } catch (error) {
      this.#end(job, 'failed', error);
      return false;
    }
    this.#end(job, 'done', value);
    return false;
  }

  readonly #onValue = (value: unknown): void => this.#resume('done', value);
  readonly #onError = (error: unknown): void => this.#resume('failed', error);

  #resume(status: 'done' | 'failed', outcome: unknown): void {
    // An abandoned slot's late outcome is dropped: the job's result was recorded at its abort.
    if (this.job !== null) {
      this.#end(this.job, status, outcome);
      this.next();
    }
  }

  #end(job: Job, status: 'done' | 'failed', outcome: unknown): void {
    clearTimeout(this.#timer);
    // A job already recorded as timed out or cancelled drops its late outcome.
    if (job.state === RUNNING) {
      this.#record(job, status, outcome, status === 'done' ? '' : messageOf(outcome, job.id));
    }
    job.slot = null;
    this.job = null;
    this.#attempt = null;
    this.scheduler.finished();
  }

  #record(job: Job, status: FailureStatus | 'done', outcome: unknown, error: string): void {
    const durationMs = now() - this.#startedAt;
    this.scheduler.hooks.record(
      job,
      status === 'done' ? success(job.id, outcome, durationMs) : failure(job.id, status, error, outcome, durationMs),
    );
  }
}
