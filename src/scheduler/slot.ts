import { now, setTimer, type Timer } from '../clock.js';
import { messageOf } from '../result.js';
import { track } from '../task.js';
import { Attempt } from './attempt.js';
import type { Gate } from './gate.js';
import { type Job, RUNNING } from './job.js';
import type { Scheduler } from './scheduler.js';

/** Which limit an attempt's timer stands for: its own `timeoutMs`, what is left of `totalTimeoutMs`, or the deadline. */
const OWN = 0;
const TOTAL = 1;
const DEADLINE_CUT = 2;
type Cut = typeof OWN | typeof TOTAL | typeof DEADLINE_CUT;

const onTimeout = (slot: Slot): void => {
  const job = slot.job as Job;
  if (slot.cut === DEADLINE_CUT) {
    // The timer was cut to the deadline: the task is cancelled by it, not timed out.
    const reason = slot.scheduler.deadlineReason;
    slot.abort('cancelled', new DOMException(reason, 'TimeoutError'), `task ${JSON.stringify(job.id)} was cancelled: ${reason}`, true);
    return;
  }
  const { timeoutMs, totalTimeoutMs } = job.settings;
  const total = slot.cut === TOTAL;
  const ms = total ? totalTimeoutMs : timeoutMs;
  const error = total ? job.totalTimeoutError() : `task ${JSON.stringify(job.id)} timed out after ${ms} ms`;
  slot.abort('timeout', timeoutReason(ms), error, total);
};

let shared: { ms: number; at: number; reason: DOMException } | undefined;

/**
 * The abort reason of a timeout: one `TimeoutError` shared by every task timing out after the same
 * time in the same millisecond, since making one (and its stack) for each of a batch of hundreds made
 * the last of them late.
 */
function timeoutReason(ms: number): DOMException {
  const at = Math.floor(now());
  if (shared?.ms !== ms || shared.at !== at) {
    shared = { ms, at, reason: new DOMException(`The task timed out after ${ms} ms`, 'TimeoutError') };
  }
  return shared.reason;
}

/** The grace is over and the aborted function still runs: this slot is abandoned and a fresh one carries on. */
const onGrace = (slot: Slot): void => {
  const job = slot.job as Job;
  // A retry of the job may be running on another slot by now.
  if (job.slot === slot) {
    job.slot = null;
  }
  slot.job = null;
  slot.scheduler.finished();
  new Slot(slot.scheduler, slot.release).next();
};

/**
 * One slot granted by p-limit: it runs queued jobs back to back, one at a time, and gives the slot
 * back (`release`) when nothing is left to start. Its settle handlers are made once per slot, not per
 * task, and a timer gets the slot as its argument rather than a closure.
 *
 * An aborted job (timed out or cancelled) has its outcome settled at the abort, while the slot stays
 * held until the function settles or `abortGraceMs` runs out: cooperative tasks never push real
 * concurrency above the cap, and uncooperative ones cannot wedge the dispatcher.
 */
export class Slot {
  /** The job running here; null once the slot has moved on or been abandoned. */
  job: Job | null = null;
  #attempt: Attempt | null = null;
  /** Slots held when the attempt started, itself included: the load adaptive mode judges it by. */
  #inflight = 0;
  /** Adaptive mode's count of cuts when the attempt started. */
  #cuts = 0;
  #timer: Timer;
  /** Which limit the running attempt's timer stands for. */
  cut: Cut = OWN;
  /** The gate whose async context this slot is running in now, if any. */
  #context: Gate | null = null;

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

  /**
   * Ends the running attempt now as timed out or cancelled, aborting its signal with `reason`.
   * `final` rules out a retry (a cancel, or the total time spent).
   */
  abort(status: 'timeout' | 'cancelled', reason: unknown, error: string, final: boolean): void {
    const job = this.job as Job;
    if (!this.#current(job)) {
      return;
    }
    clearTimeout(this.#timer);
    const attempt = this.#attempt as Attempt;
    this.scheduler.settle(job, status, reason, error, final, this.#inflight, this.#cuts, Attempt.usage(attempt));
    Attempt.abort(attempt, reason);
    this.#timer = setTimer(this.scheduler.abortGraceMs, onGrace, this);
  }

  /** Starts `job`; returns true when it is pending on a promise. */
  #start(job: Job): boolean {
    this.job = job;
    job.slot = this;
    job.state = RUNNING;
    const attempt = (this.#attempt = new Attempt(job.id, ++job.attempts));
    this.#inflight = this.scheduler.running;
    if (job.group !== null) {
      job.group.running++;
    }
    this.#cuts = this.scheduler.cuts;
    if (job.task !== null) {
      track(job.task, 'running');
    }
    const start = now();
    if (job.startedAt < 0) {
      job.startedAt = start;
    }
    const { timeoutMs, totalTimeoutMs } = job.settings;
    // Cut to what is left of the total, and of the time before the deadline; the message says which.
    const total = job.startedAt + totalTimeoutMs - start;
    const deadline = this.scheduler.timeLeft();
    const ms = Math.min(timeoutMs, total, deadline);
    this.cut = ms === timeoutMs ? OWN : ms === total ? TOTAL : DEADLINE_CUT;
    this.#timer = setTimer(ms, onTimeout, this);
    // The function runs in the async context its task was submitted from: directly when this slot is
    // already in it (the next task of the same batch), else through the job's gate.
    const { gate } = job;
    const { hops } = this.scheduler;
    // Directly only when no function started before it is still waiting for its gate: start order holds.
    if (gate === null || (gate === this.#context && hops.empty)) {
      return this.#invoke(job, attempt);
    }
    hops.run(gate, this.#hop);
    return true;
  }

  /** In the job's gate, a microtask after its start: runs the function, then carries on with the queue. */
  readonly #hop = (): void => {
    const job = this.job;
    if (job === null) {
      return;
    }
    this.#context = job.gate;
    if (!this.#current(job)) {
      // Timed out or cancelled before its function ran: there is nothing to wait for.
      this.#free(job);
      this.next();
    } else if (!this.#invoke(job, this.#attempt as Attempt)) {
      this.next();
    }
    this.#context = null;
  };

  /** Calls the job's function; returns true when it is pending on a promise. */
  #invoke(job: Job, attempt: Attempt): boolean {
    this.scheduler.started(job);
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
    const job = this.job;
    // An abandoned slot's late outcome is dropped: the job's outcome was settled at its abort.
    if (job !== null) {
      // Handlers run in the context they were attached in: the job's gate's.
      this.#context = job.gate;
      this.#end(job, status, outcome);
      this.next();
      this.#context = null;
    }
  }

  #end(job: Job, status: 'done' | 'failed', outcome: unknown): void {
    clearTimeout(this.#timer);
    // A late outcome is dropped: the attempt was settled when it timed out or was cancelled, and the
    // job may have been settled since, or be running its retry on another slot.
    if (this.#current(job)) {
      const error = status === 'done' ? '' : messageOf(outcome, job.id);
      this.scheduler.settle(job, status, outcome, error, false, this.#inflight, this.#cuts, Attempt.usage(this.#attempt as Attempt));
    }
    this.#free(job);
  }

  /** Whether `job`'s running attempt is this slot's, not yet settled. */
  #current(job: Job): boolean {
    return job.state === RUNNING && job.slot === this;
  }

  /** The slot lets go of `job` and is free for the next. */
  #free(job: Job): void {
    clearTimeout(this.#timer);
    if (job.slot === this) {
      job.slot = null;
    }
    this.job = null;
    this.#attempt = null;
    this.scheduler.finished();
  }
}
