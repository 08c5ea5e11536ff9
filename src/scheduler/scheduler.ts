import pLimit, { type LimitFunction } from 'p-limit';
import { now, setTimer, type Timer } from '../clock.js';
import type { Emitter, PauseReason } from '../events.js';
import { Aimd, type AdaptivePolicy } from '../policies/adaptive.js';
import type { Budget, Usage } from '../policies/budget.js';
import type { RateLimiter } from '../policies/rate-limit.js';
import { backoffMs, isOverloaded, isRetryable, retryAfterMs } from '../policies/retry.js';
import { type DispatchResult, type FailureStatus, failure, messageOf, success } from '../result.js';
import { type Job, QUEUED, RUNNING, SETTLED, WAITING } from './job.js';
import { Hops } from './gate.js';
import { KeyedQueue } from './keyed-queue.js';
import { Slot } from './slot.js';

export interface SchedulerSettings {
  readonly maxWorkers: number;
  readonly abortGraceMs: number;
  readonly adaptive: AdaptivePolicy | undefined;
  readonly random: () => number;
  readonly limiter: RateLimiter | undefined;
  readonly budget: Budget | undefined;
  /** Milliseconds left before the deadline, read at each decision; undefined without one. */
  readonly timeLeft: (() => number) | undefined;
  readonly safetyMarginMs: number;
  /** The tokens a successful attempt used, from its result. */
  readonly usageOf: (result: unknown) => Usage | undefined;
  /**
   * Ends every unfinished job as cancelled with `error`: queued and waiting ones, and running ones too
   * when `running` is true (the deadline, not the budget).
   */
  readonly expire: (error: string, running: boolean) => void;
  /** Records a job's one result; the job's state is `SETTLED` afterwards. */
  readonly record: (job: Job, result: DispatchResult) => void;
  /** Nothing queued, running or waiting to retry. */
  readonly idle: () => void;
  /** Nothing queued or waiting to retry (tasks may be running). */
  readonly empty: () => void;
  readonly events: Emitter;
}

type Status = FailureStatus | 'done';

/**
 * The core: p-limit grants at most `concurrency` slots, and each granted slot runs queued jobs back
 * to back, taking the highest-priority one at each start, and gives its slot back only when nothing
 * is left to start. Queued jobs therefore cost one entry in our own priority queue, not a closure and
 * a promise in p-limit's FIFO, and p-limit stays the one gate on concurrency.
 *
 * It also settles each attempt: a result, or a retry that waits holding no slot and then queues the
 * job again ahead of newer jobs of its priority; a pause of all starts; and the adaptive limit.
 */
export class Scheduler {
  readonly #limit: LimitFunction;
  readonly #queue = new KeyedQueue();
  /** Rate limits, a budget or a deadline: each start asks them first. */
  readonly #gated: boolean;
  /** A start waits for a rate limit until this timer fires. */
  #blocked: Timer;
  #deadlineTimer: Timer;
  #deadlineError: string | undefined;
  readonly #settings: SchedulerSettings;
  readonly #aimd: Aimd | undefined;
  /** Jobs queued and not cancelled. The queue may also hold cancelled ones (tombstones), skipped when reached. */
  #queued = 0;
  /** Slots held by a job: running, or timed out and still inside its grace. */
  #running = 0;
  /** Jobs waiting to be queued again for a retry. */
  #waiting = 0;
  /** Slots asked of p-limit, granted or still waiting. */
  #asked = 0;
  /** Slots p-limit has granted. */
  #granted = 0;
  /** Starts are paused until this time (from `now()`): 0 when not paused, `Infinity` until `resume()`. */
  #pausedUntil = 0;
  #pauseTimer: Timer;
  #maxWorkers: number;
  /** Retries scheduled so far. */
  retries = 0;
  /** Functions waiting to run in their tasks' async contexts, in start order. */
  readonly hops = new Hops();

  constructor(settings: SchedulerSettings) {
    this.#settings = settings;
    this.#maxWorkers = settings.maxWorkers;
    this.#aimd =
      settings.adaptive &&
      new Aimd(settings.adaptive, (limit, previous) => {
        this.#limit.concurrency = limit;
        this.#settings.events.emit('limit', { limit, previous });
        this.#pump();
      });
    this.#limit = pLimit(this.#aimd?.limit ?? settings.maxWorkers);
    this.#gated = settings.limiter !== undefined || settings.budget !== undefined || settings.timeLeft !== undefined;
  }

  /**
   * Milliseconds an attempt may run before the deadline's safety margin: `Infinity` without a
   * deadline, 0 or less once it has come.
   */
  timeLeft(): number {
    const { timeLeft, safetyMarginMs } = this.#settings;
    if (timeLeft === undefined) {
      return Infinity;
    }
    let left: unknown;
    try {
      left = timeLeft();
    } catch (error) {
      left = error;
    }
    if (typeof left !== 'number' || Number.isNaN(left)) {
      // A deadline that cannot be read fails closed: the work ends, saying why.
      this.#deadlineError = `the deadline could not be read (deadline() gave ${left instanceof Error ? `an error: ${left.message}` : String(left)})`;
      return 0;
    }
    return left - safetyMarginMs;
  }

  /** Why the work is ended at the deadline. */
  get deadlineReason(): string {
    return this.#deadlineError ?? 'the deadline has come (deadline − safetyMarginMs)';
  }

  get abortGraceMs(): number {
    return this.#settings.abortGraceMs;
  }

  /** The configured cap: `maxWorkers`, or adaptive mode's `max`. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  set maxWorkers(value: number) {
    this.#maxWorkers = value;
    if (this.#aimd !== undefined) {
      this.#aimd.setMax(value);
      return;
    }
    const previous = this.#limit.concurrency;
    this.#limit.concurrency = value;
    if (value !== previous) {
      this.#settings.events.emit('limit', { limit: value, previous });
    }
    this.#pump();
  }

  /** The limit in force: `maxWorkers`, or adaptive mode's current limit. */
  get limit(): number {
    return this.#limit.concurrency;
  }

  /** Adaptive mode's count of cuts, noted by each attempt at its start. */
  get cuts(): number {
    return this.#aimd?.cuts ?? 0;
  }

  get queued(): number {
    return this.#queued;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting;
  }

  get paused(): boolean {
    if (this.#pausedUntil !== 0 && this.#pausedUntil <= now()) {
      // Ended while idle, with no timer to say so.
      this.#pausedUntil = 0;
    }
    return this.#pausedUntil !== 0;
  }

  enqueue(job: Job): void {
    const refused = this.#settings.limiter?.refuse(job.key, job.cost);
    if (refused !== undefined) {
      // It could never start: it fails now rather than wait forever.
      this.#record(job, 'failed', new RangeError(refused), `task ${JSON.stringify(job.id)} cannot run: ${refused}`);
      this.#checkIdle();
      return;
    }
    this.#queue.push(job);
    this.#noteQueued(job);
    this.#queued++;
    this.#armPause();
    this.#unblock();
    this.#armDeadline();
  }

  /** Ends an unfinished job as cancelled: queued or waiting at once, running by aborting its attempt. */
  cancel(job: Job, reason: unknown, error: string): void {
    if (job.state === RUNNING) {
      job.slot?.abort('cancelled', reason, error, true);
    } else {
      this.#endUnstarted(job, 'cancelled', reason, error);
    }
  }

  /** Ends a queued job, or one waiting to retry, without starting it (again); a settled one is left alone. */
  #endUnstarted(job: Job, status: 'cancelled' | 'timeout', reason: unknown, error: string): void {
    if (job.state === WAITING) {
      this.#waiting--;
    } else if (job.state === QUEUED) {
      this.#queued--;
      if (this.#queued === 0) {
        // Only tombstones are left.
        this.#queue.clear();
      }
    } else {
      return;
    }
    clearTimeout(job.timer);
    job.timer = undefined;
    this.#record(job, status, reason, error);
    this.#checkEmpty();
    this.#checkIdle();
  }

  /**
   * The next job for a granted slot to start, or undefined when the slot should leave: nothing is
   * queued, starts are paused, or the limit was lowered and this slot is surplus.
   */
  take(): Job | undefined {
    if (this.#granted > this.#limit.concurrency || this.#pausedUntil !== 0 || this.#blocked !== undefined || this.#queued === 0) {
      return undefined;
    }
    const next = this.#gated ? this.#takeGated() : this.#queue.take();
    if (typeof next === 'number') {
      return undefined;
    }
    if (next.timer !== undefined) {
      // A retry queued again with a total timeout running.
      clearTimeout(next.timer);
      next.timer = undefined;
    }
    this.#queued--;
    this.#running++;
    this.#checkEmpty();
    return next;
  }

  /** The next job that the budget, the deadline and the rate limits let start now, if any. */
  #takeGated(): Job | number {
    const { limiter, budget } = this.#settings;
    const spent = budget?.exhausted;
    if (spent !== undefined || this.timeLeft() <= 0) {
      this.#settings.expire(spent ?? this.deadlineReason, spent === undefined);
      return Infinity;
    }
    const at = now();
    const next = this.#queue.take(limiter && ((job) => limiter.check(job.key, job.cost, at)));
    if (typeof next === 'number') {
      if (next !== Infinity) {
        // Nothing can start before the buckets refill: no slot is asked for until then.
        this.#blocked = setTimer(Math.max(1, Math.ceil(next)), this.#unblock, undefined);
      }
      return next;
    }
    limiter?.take(next.key, next.cost, at);
    // The estimate counts at the start, so running work counts against the budget; corrected at the end.
    budget?.start(next.cost);
    return next;
  }

  /** A rate-limit wait is over, or something changed that may let a job start sooner. */
  readonly #unblock = (): void => {
    clearTimeout(this.#blocked);
    this.#blocked = undefined;
    this.#pump();
  };

  /** Sets the timer that ends everything at the deadline, while there is work. */
  #armDeadline(): void {
    if (this.#settings.timeLeft !== undefined && this.#deadlineTimer === undefined) {
      this.#deadlineTimer = setTimer(Math.max(0, this.timeLeft()), this.#onDeadline, undefined);
    }
  }

  readonly #onDeadline = (): void => {
    this.#deadlineTimer = undefined;
    // A function deadline may say there is more time than it did when the timer was set.
    if (this.timeLeft() > 0) {
      this.#armDeadline();
      return;
    }
    this.#settings.expire(this.deadlineReason, true);
  };

  started(job: Job): void {
    const { events } = this.#settings;
    if (events.has('start')) {
      events.emit('start', { taskId: job.id, attempt: job.attempts }, job);
    }
  }

  /** Notes when a job is queued, for the `start` listeners' wait time; only when there are some. */
  #noteQueued(job: Job): void {
    if (this.#settings.events.has('start')) {
      job.queuedAt = now();
    }
  }

  /** A slot's job no longer holds it: settled, or abandoned after its grace. */
  finished(): void {
    this.#running--;
    this.#checkIdle();
  }

  /** A slot found nothing to start and goes back to p-limit. */
  leave(): void {
    this.#granted--;
    this.#asked--;
    // A job queued while this slot was leaving may need a slot it could not see as free.
    this.#pump();
  }

  /**
   * An attempt ended: records the job's result, or sends it to wait for a retry. `final` rules out a
   * retry; `inflight` and `cuts` are the slots held and adaptive mode's cuts when the attempt started.
   */
  settle(
    job: Job,
    status: Status,
    outcome: unknown,
    error: string,
    final: boolean,
    inflight: number,
    cuts: number,
    reported: Usage | undefined,
  ): void {
    if (job.group !== null) {
      job.group.running--;
    }
    job.usage = reported;
    if (this.#gated) {
      this.#charge(job, status === 'done' ? (reported ?? this.#usageOf(outcome)) : reported);
    }
    if (status === 'done') {
      this.#aimd?.success(inflight);
      this.#record(job, status, outcome, error);
      return;
    }
    (job.errors ??= []).push(error);
    const overloaded = status === 'failed' && isOverloaded(outcome);
    if (status === 'timeout' || overloaded) {
      this.#aimd?.overload(cuts);
    } else {
      // Successes must come in a row to raise the limit.
      this.#aimd?.failure();
    }
    if (status === 'cancelled') {
      this.#record(job, status, outcome, error);
      return;
    }
    const { retry } = job.settings;
    const asked = status === 'failed' ? retryAfterMs(outcome) : undefined;
    if (asked !== undefined && overloaded) {
      // The provider's limit is shared by every worker: nothing starts before it said to come back.
      this.pauseFor(asked, 'rate-limit');
    }
    const spent = this.#settings.budget?.exhausted;
    if (spent !== undefined && !final) {
      // No attempt may start past the budget: the task ends now rather than wait out a backoff for nothing.
      this.#record(job, 'cancelled', outcome, `task ${JSON.stringify(job.id)} was cancelled: ${spent}`);
      return;
    }
    const verdict = final || job.attempts > retry.retries ? false : this.#retryable(job, status, outcome);
    if (verdict !== true) {
      this.#record(job, status, outcome, typeof verdict === 'string' ? `${error} (${verdict})` : error);
      return;
    }
    if (asked !== undefined && asked > retry.maxDelayMs) {
      const message = `${error} (the provider asked to retry after ${asked} ms, more than retry.maxDelayMs: ${retry.maxDelayMs} ms)`;
      this.#record(job, status, outcome, message);
      return;
    }
    const { random } = this.#settings;
    const delayMs =
      asked === undefined
        ? backoffMs(retry, job.attempts, random)
        : Math.min(retry.maxDelayMs, asked + (retry.jitter === 'full' ? random() * retry.minDelayMs : 0));
    if (now() + delayMs >= job.startedAt + job.settings.totalTimeoutMs || delayMs >= this.timeLeft()) {
      // The next attempt could not start before the total time, or the deadline, runs out.
      this.#record(job, status, outcome, error);
      return;
    }
    job.state = WAITING;
    this.#waiting++;
    job.timer = setTimer(delayMs, this.#requeue, job);
    this.retries++;
    this.#settings.events.emit('retry', { taskId: job.id, attempt: job.attempts, delayMs, error }, job);
  }

  #usageOf(result: unknown): Usage | undefined {
    try {
      return this.#settings.usageOf(result);
    } catch {
      return undefined;
    }
  }

  /** Corrects the tokens reserved for an attempt by what it reported, and counts it against the budget. */
  #charge(job: Job, usage: Usage | undefined): void {
    const { limiter, budget } = this.#settings;
    const used = usage?.totalTokens;
    if (used !== undefined && Number.isFinite(used) && used !== job.cost) {
      limiter?.correct(job.key, used - job.cost, now());
      // A refund may let a blocked job start sooner.
      if (used < job.cost && this.#blocked !== undefined) {
        queueMicrotask(this.#unblock);
      }
    }
    if (budget !== undefined) {
      budget.settle(job.cost, usage);
      if (budget.exhausted !== undefined && this.#queued + this.#waiting > 0) {
        this.#settings.expire(budget.exhausted, false);
      }
    }
  }

  /** Stops starting tasks until `resume()`; running ones continue. */
  pause(): void {
    clearTimeout(this.#pauseTimer);
    this.#pausedUntil = Infinity;
    this.#settings.events.emit('pause', { reason: 'manual' });
  }

  /** Stops starting tasks for `ms`, or longer if already paused for longer. */
  pauseFor(ms: number, reason: PauseReason = 'manual'): void {
    const until = now() + ms;
    if (until <= this.#pausedUntil) {
      return;
    }
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    this.#pausedUntil = until;
    this.#armPause();
    this.#settings.events.emit('pause', { reason, untilMs: Date.now() + ms });
  }

  /**
   * A timed pause holds a timer only while work is queued: an idle dispatcher holds none, so a process
   * whose work is done exits, and a pause that ends while idle ends quietly (`paused` reads false).
   */
  #armPause(): void {
    const until = this.#pausedUntil;
    if (until === 0 || until === Infinity || this.#pauseTimer !== undefined || this.#queued === 0) {
      return;
    }
    const left = until - now();
    if (left <= 0) {
      this.#resume();
    } else {
      this.#pauseTimer = setTimer(left, this.#resume, undefined);
    }
  }

  resume(): void {
    if (this.#pausedUntil !== 0) {
      this.#resume();
    }
  }

  readonly #resume = (): void => {
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    this.#pausedUntil = 0;
    this.#settings.events.emit('resume', undefined);
    this.#pump();
  };

  /** Whether the attempt's failure is worth another attempt; a string says why not (a `retryOn` that threw). */
  #retryable(job: Job, status: FailureStatus, outcome: unknown): boolean | string {
    const { retryable } = (outcome ?? {}) as { retryable?: unknown };
    if (typeof retryable === 'boolean') {
      return retryable;
    }
    const { retryOn } = job.settings.retry;
    if (retryOn !== undefined) {
      try {
        return retryOn(outcome, job.attempts) === true;
      } catch (error) {
        return `not retried: retry.retryOn threw: ${messageOf(error, job.id)}`;
      }
    }
    return status === 'timeout' || isRetryable(outcome);
  }


  readonly #requeue = (job: Job): void => {
    this.#waiting--;
    job.state = QUEUED;
    this.#queue.unshift(job);
    this.#noteQueued(job);
    this.#queued++;
    // The total timeout goes on counting while it waits for a slot, or out a pause.
    job.timer = setTimer(job.startedAt + job.settings.totalTimeoutMs - now(), this.#totalOver, job);
    this.#armPause();
    this.#unblock();
  };

  /** A retry waiting in the queue ran out of total time: it ends as timed out without starting again. */
  readonly #totalOver = (job: Job): void => {
    const error = job.totalTimeoutError();
    this.#endUnstarted(job, 'timeout', new DOMException(error, 'TimeoutError'), error);
  };

  #record(job: Job, status: Status, outcome: unknown, error: string): void {
    const durationMs = job.startedAt < 0 ? 0 : now() - job.startedAt;
    job.state = SETTLED;
    this.#settings.record(
      job,
      status === 'done'
        ? success(job.id, outcome, durationMs, job.attempts)
        : failure(job.id, status, error, outcome, durationMs, job.attempts, job.errors ?? []),
    );
  }

  #checkEmpty(): void {
    if (this.#queued + this.#waiting === 0) {
      this.#settings.empty();
    }
  }

  #checkIdle(): void {
    if (this.#queued + this.#running + this.#waiting === 0) {
      // An idle dispatcher holds no timer.
      clearTimeout(this.#blocked);
      this.#blocked = undefined;
      clearTimeout(this.#pauseTimer);
      this.#pauseTimer = undefined;
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.#settings.idle();
    }
  }

  #pump(): void {
    const limit = this.#limit.concurrency;
    // One waiting slot per queued job at most: a slot that finds nothing to start leaves at once.
    while (
      this.#asked < limit &&
      this.#asked - this.#running < this.#queued &&
      this.#pausedUntil === 0 &&
      this.#blocked === undefined
    ) {
      this.#asked++;
      void this.#limit(this.#grant);
    }
  }

  readonly #grant = (): Promise<void> =>
    new Promise((release) => {
      this.#granted++;
      new Slot(this, release).next();
    });
}
