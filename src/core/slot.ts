import { now, setTimer, type Timer } from '../clock.js';
import { messageOf } from '../result.js';
import { track } from '../task.js';
import { Attempt } from './attempt.js';
import type { Gate, Hopper, Hops } from './gate.js';
import { type Job, RUNNING, type Runner } from './job.js';
import type { Expiring, TimeoutList } from './timeouts.js';

/** How an attempt ended, as a slot tells its host. */
export interface Ending {
  readonly status: 'done' | 'failed' | 'timeout' | 'cancelled';
  readonly outcome: unknown;
  /** The failure's message; '' for a success. */
  readonly error: string;
  /** No retry: a cancel, or the total time spent. */
  readonly final: boolean;
}

/** What a slot needs from the scheduler that granted it. */
export interface SlotHost {
  readonly hops: Hops;
  /** The gate of the dispatcher's own async context. */
  readonly home: Gate;
  readonly abortGraceMs: number;
  /** The expiry list of slots inside their grace after an abort: one timer for all of them. */
  readonly graces: TimeoutList | null;
  /** Slots held now. */
  readonly running: number;
  /** Adaptive mode's count of cuts. */
  readonly cuts: number;
  /** The next job to start on this slot, or undefined when the slot should leave. */
  take(): Job | undefined;
  /** Milliseconds an attempt may run before the deadline; null without a deadline. */
  readonly timeLeft: (() => number) | null;
  readonly deadlineReason: string;
  /** An attempt starts (for `start` listeners). */
  started(job: Job): void;
  /** An attempt ended; `inflight` and `cuts` are the slots held and the cuts made when it started. */
  settle(job: Job, ending: Ending, inflight: number, cuts: number, attempt: Attempt): void;
  /** A slot's job no longer holds it. */
  finished(): void;
  /** A slot found nothing to start and goes back to p-limit. */
  leave(): void;
}

/** The gate of the async context a job's function runs in: its batch's, its own, or the dispatcher's. */
const gateOf = (job: Job, host: SlotHost): Gate => job.owner?.gate ?? job.notes?.gate ?? host.home;

/** Which limit an attempt's timer stands for: its own `timeoutMs`, what is left of `totalTimeoutMs`, or the deadline. */
const OWN = 0;
const TOTAL = 1;
const DEADLINE_CUT = 2;
type Cut = typeof OWN | typeof TOTAL | typeof DEADLINE_CUT;

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

const onOwnTimer = (slot: Slot): void => slot.expire();
const onGrace = (slot: Slot): void => slot.abandon();

/**
 * One slot granted by p-limit: it runs queued jobs back to back, one at a time, and gives the slot
 * back (`release`) when nothing is left to start. Its settle handlers are made once per slot, not per
 * task, and its attempt's timeout is an entry in a shared expiry list, not a timer of its own.
 *
 * An aborted job (timed out or cancelled) has its outcome settled at the abort, while the slot stays
 * held until the function settles or `abortGraceMs` runs out: cooperative tasks never push real
 * concurrency above the cap, and uncooperative ones cannot wedge the dispatcher.
 */
export class Slot implements Runner, Expiring, Hopper {
  /** The job running here; null once the slot has moved on or been abandoned. */
  job: Job | null = null;
  #attempt: Attempt | null = null;
  /** Slots held when the attempt started, itself included: the load adaptive mode judges it by. */
  #inflight = 0;
  /** Adaptive mode's count of cuts when the attempt started. */
  #cuts = 0;
  /** A timer of the slot's own: a cut timeout, or the grace after an abort. */
  #timer: Timer = undefined;
  /** Which limit the running attempt's timeout stands for. */
  #cut: Cut = OWN;
  /** Aborted, and holding the slot for the grace: its expiry list is the graces'. */
  #inGrace = false;
  /** The gate whose async context this slot is running in now, if any. */
  #context: Gate | null = null;
  expiresAt = 0;
  before: Expiring | null = null;
  after: Expiring | null = null;
  list: TimeoutList | null = null;
  hopGate: Gate | null = null;

  constructor(
    readonly host: SlotHost,
    readonly release: () => void,
  ) {}

  /** Runs queued jobs until one is pending on a promise (its handler resumes here) or none is left. */
  next(): void {
    for (let job = this.host.take(); job !== undefined; job = this.host.take()) {
      if (this.#start(job)) {
        return;
      }
    }
    this.host.leave();
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
    this.#disarm();
    const attempt = this.#attempt as Attempt;
    this.host.settle(job, { status, outcome: reason, error, final }, this.#inflight, this.#cuts, attempt);
    Attempt.abort(attempt, reason);
    // The grace runs in a shared list, as timeouts do: a batch timing out together sets one timer.
    this.#inGrace = true;
    const { graces } = this.host;
    if (graces === null) {
      this.#timer = setTimer(this.host.abortGraceMs, onGrace, this);
    } else {
      graces.add(this, now());
    }
  }

  /** The attempt's time is up (from its expiry list or its own timer), or the grace after its abort. */
  expire(): void {
    if (this.#inGrace) {
      this.abandon();
      return;
    }
    const job = this.job as Job;
    this.#timer = undefined;
    if (this.#cut === DEADLINE_CUT) {
      // The timer was cut to the deadline: the task is cancelled by it, not timed out.
      const reason = this.host.deadlineReason;
      this.abort('cancelled', new DOMException(reason, 'TimeoutError'), `task ${JSON.stringify(job.id)} was cancelled: ${reason}`, true);
      return;
    }
    const { timeoutMs, totalTimeoutMs } = job.settings;
    const total = this.#cut === TOTAL;
    const ms = total ? totalTimeoutMs : timeoutMs;
    const error = total ? job.totalTimeoutError() : `task ${JSON.stringify(job.id)} timed out after ${ms} ms`;
    this.abort('timeout', timeoutReason(ms), error, total);
  }

  /** The grace is over and the aborted function still runs: this slot is abandoned and a fresh one carries on. */
  abandon(): void {
    this.#inGrace = false;
    const job = this.job as Job;
    // A retry of the job may be running on another slot by now.
    if (job.runner === this) {
      job.runner = null;
    }
    this.job = null;
    this.host.finished();
    new Slot(this.host, this.release).next();
  }

  /** Starts `job`; returns true when it is pending on a promise. */
  #start(job: Job): boolean {
    const host = this.host;
    this.job = job;
    job.runner = this;
    job.state = RUNNING;
    const attempt = (this.#attempt = new Attempt(job.id, ++job.attempts));
    this.#inflight = host.running;
    this.#cuts = host.cuts;
    if (job.owner !== null) {
      job.owner.running++;
    }
    const task = job.notes?.task;
    if (task !== undefined && task !== null) {
      track(task, 'running');
    }
    const start = now();
    if (job.startedAt === null) {
      job.startedAt = start;
    }
    this.#arm(job, start);
    // The function runs in the async context it should run in: directly when this slot is already in
    // it and no function started before it still waits for its gate (start order holds), else through
    // the job's gate.
    const gate = gateOf(job, host);
    const { hops } = host;
    if (gate === this.#context && hops.empty) {
      return this.#invoke(job, attempt);
    }
    hops.run(gate, this);
    return true;
  }

  /** Starts the attempt's timeout: in its shared list, unless a total timeout or the deadline cuts it short. */
  #arm(job: Job, start: number): void {
    const { timeoutMs, totalTimeoutMs, timeouts } = job.settings;
    this.#cut = OWN;
    let ms = timeoutMs;
    const { timeLeft } = this.host;
    if (totalTimeoutMs !== Infinity || timeLeft !== null) {
      const total = (job.startedAt as number) + totalTimeoutMs - start;
      const deadline = timeLeft === null ? Infinity : timeLeft();
      ms = Math.min(timeoutMs, total, deadline);
      this.#cut = ms === timeoutMs ? OWN : ms === total ? TOTAL : DEADLINE_CUT;
    }
    if (this.#cut === OWN && timeouts !== null) {
      timeouts.add(this, start);
    } else if (ms !== Infinity) {
      this.#timer = setTimer(ms, onOwnTimer, this);
    }
  }

  /** Stops the attempt's timeout, and any timer of the slot's own. */
  #disarm(): void {
    this.list?.remove(this);
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** In the job's gate, a microtask after its start: runs the function, then carries on with the queue. */
  hop(): void {
    const job = this.job;
    if (job === null) {
      return;
    }
    this.#context = gateOf(job, this.host);
    if (!this.#current(job)) {
      // Timed out or cancelled before its function ran: there is nothing to wait for.
      this.#free(job);
      this.next();
    } else if (!this.#invoke(job, this.#attempt as Attempt)) {
      this.next();
    }
  }

  /** Calls the job's function; returns true when it is pending on a promise. */
  #invoke(job: Job, attempt: Attempt): boolean {
    this.host.started(job);
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
      this.#context = gateOf(job, this.host);
      this.#end(job, status, outcome);
      this.next();
    }
  }

  #end(job: Job, status: 'done' | 'failed', outcome: unknown): void {
    // A late outcome is dropped: the attempt was settled when it timed out or was cancelled, and the
    // job may have been settled since, or be running its retry on another slot.
    if (this.#current(job)) {
      this.#disarm();
      const error = status === 'done' ? '' : messageOf(outcome, job.id);
      this.host.settle(job, { status, outcome, error, final: false }, this.#inflight, this.#cuts, this.#attempt as Attempt);
    }
    this.#free(job);
  }

  /** Whether `job`'s running attempt is this slot's, not yet settled. */
  #current(job: Job): boolean {
    return job.state === RUNNING && job.runner === this;
  }

  /** The slot lets go of `job` and is free for the next. */
  #free(job: Job): void {
    this.#disarm();
    this.#inGrace = false;
    if (job.runner === this) {
      job.runner = null;
    }
    this.job = null;
    this.#attempt = null;
    this.host.finished();
  }
}
