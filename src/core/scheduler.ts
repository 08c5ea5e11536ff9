import { now, setTimer, type Timer } from '../clock.js';
import type { Emitter } from '../events.js';
import type { Admission } from '../admission/admission.js';
import type { DeadlineWatch } from '../admission/deadline.js';
import { Pause } from '../admission/pause.js';
import type { AdaptivePolicy, Aimd } from '../policies/adaptive.js';
import type { Usage } from '../policies/budget.js';
import type { DispatchResult } from '../result.js';
import { Cap } from './cap.js';
import { Gate, Hops } from './gate.js';
import { type Job, QUEUED, RUNNING, WAITING } from './job.js';
import { Outcomes } from './outcome.js';
import { KeyedQueue } from './queue/keyed-queue.js';
import { type Ending, Slot, type SlotHost } from './slot.js';
import type { Attempt } from './attempt.js';
import { type TimeoutList, Timeouts } from './timeouts.js';

export interface SchedulerSettings {
  readonly maxWorkers: number;
  readonly abortGraceMs: number;
  readonly adaptive: AdaptivePolicy | undefined;
  readonly random: () => number;
  /** The tokens a successful attempt used, from its result. */
  readonly usageOf: (result: unknown) => Usage | undefined;
  readonly deadline: DeadlineWatch | null;
  readonly events: Emitter;
  /** Records a job's one result; the job's state is `SETTLED` afterwards. */
  readonly record: (job: Job, result: DispatchResult) => void;
  /** Nothing queued, running or waiting to retry. */
  readonly idle: () => void;
  /** Nothing queued or waiting to retry (tasks may be running). */
  readonly empty: () => void;
}

/**
 * The slot loop. p-limit grants at most `concurrency` slots, and each granted slot runs queued jobs
 * back to back, asking the admission for the next one at each start, and gives its slot back only when
 * nothing is left to start. Queued jobs therefore cost one entry in our own queue, not a closure and a
 * promise in p-limit's FIFO, and p-limit stays the one gate on concurrency.
 */
export class Scheduler implements SlotHost {
  readonly #cap: Cap;
  readonly #queue = new KeyedQueue();
  readonly #settings: SchedulerSettings;
  /** Decides each start; set by the dispatcher once its policies are made. */
  admission!: Admission;
  readonly pause: Pause;
  readonly aimd: Aimd | undefined;
  readonly timeouts = new Timeouts();
  readonly outcomes: Outcomes;
  /** Functions waiting to run in their tasks' async contexts, in start order. */
  readonly hops = new Hops();
  /** The async context the dispatcher was made in: submitted tasks run in it unless they capture their own. */
  readonly home = new Gate(this.hops);
  readonly timeLeft: (() => number) | null;
  readonly events: Emitter;
  readonly random: () => number;
  readonly usageOf: (result: unknown) => Usage | undefined;
  readonly abortGraceMs: number;
  readonly graces: TimeoutList | null;
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
  /** A start waits (for a rate limit) until this timer fires. */
  #blocked: Timer = undefined;
  /** Told when fewer jobs are queued or waiting than before, while someone waits for that (`onSizeLessThan`). */
  onShrink: (() => void) | null = null;
  /**
   * The admission said nothing may start until something changes (`Infinity`): no slot is asked for
   * until then, or slots would be granted and leave again without end.
   */
  #stalled = false;
  /** An admission's answer is on its way: no slot is asked for until it is in. */
  #awaiting = false;

  constructor(settings: SchedulerSettings) {
    this.#settings = settings;
    this.events = settings.events;
    this.random = settings.random;
    this.usageOf = settings.usageOf;
    this.abortGraceMs = settings.abortGraceMs;
    this.graces = this.timeouts.gracesFor(settings.abortGraceMs);
    this.timeLeft = settings.deadline?.timeLeft ?? null;
    this.pause = new Pause(this);
    this.#cap = new Cap(settings.maxWorkers, settings.adaptive, this.events, () => this.#pump());
    this.aimd = this.#cap.aimd;
    this.outcomes = new Outcomes(this);
  }

  get deadlineReason(): string {
    return this.#settings.deadline?.reason ?? '';
  }

  /** The cap: the dispatcher's `maxWorkers` and `currentLimit`. */
  get cap(): Cap {
    return this.#cap;
  }

  get cuts(): number {
    return this.#cap.cuts;
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

  /** Queues a job; `poke()` then asks for the slots to start it. */
  add(job: Job): void {
    const refused = this.admission.refuse(job);
    if (refused !== undefined) {
      // It could never start: it fails now rather than wait forever.
      this.outcomes.record(job, 'failed', new RangeError(refused), `task ${JSON.stringify(job.id)} cannot run: ${refused}`);
      this.#checkIdle();
      return;
    }
    this.#queue.push(job);
    if (this.events.starts) {
      job.note().queuedAt = now();
    }
    this.#queued++;
  }

  /** Something changed that may let jobs start: asks p-limit for the slots they need. */
  poke(): void {
    this.pause.arm();
    this.#settings.deadline?.arm();
    this.#unblock();
  }

  /** A refund of tokens may let a job blocked by a rate limit start sooner. */
  refunded(): void {
    if (this.#blocked !== undefined) {
      queueMicrotask(this.#unblock);
    }
  }

  /** Ends an unfinished job as cancelled: queued or waiting at once, running by aborting its attempt. */
  cancel(job: Job, reason: unknown, error: string): void {
    if (job.state === RUNNING) {
      job.runner?.abort('cancelled', reason, error, true);
    } else {
      this.end(job, 'cancelled', reason, error);
    }
  }

  /** Ends a queued job, or one waiting to retry, as failed with `error`; others are left alone. */
  fail(job: Job, error: Error): void {
    this.end(job, 'failed', error, error.message);
  }

  /** Ends a queued job, or one waiting to retry, without starting it (again); a settled one is left alone. */
  end(job: Job, status: 'cancelled' | 'timeout' | 'failed', reason: unknown, error: string): void {
    if (job.state === WAITING) {
      this.#waiting--;
    } else if (job.state === QUEUED) {
      this.#queued--;
      this.admission.dropped(job);
      if (this.#queued === 0) {
        // Only tombstones are left.
        this.#queue.clear();
      }
    } else {
      return;
    }
    const notes = job.notes;
    if (notes !== null && notes.timer !== undefined) {
      clearTimeout(notes.timer);
      notes.timer = undefined;
    }
    this.outcomes.record(job, status, reason, error);
    this.#checkEmpty();
    this.onShrink?.();
    this.#checkIdle();
  }

  /**
   * The next job for a granted slot to start, or undefined when the slot should leave: nothing may
   * start now, or the limit was lowered and this slot is surplus.
   */
  take(): Job | undefined {
    if (this.#granted > this.#cap.limit || this.#blocked !== undefined || this.#awaiting || this.#stalled || this.#queued === 0) {
      return undefined;
    }
    const next = this.admission.next(this.#queue, this.#cap.limit - this.#running);
    if (typeof next === 'number') {
      if (next !== Infinity) {
        // Nothing can start before the buckets refill: no slot is asked for until then.
        this.#blocked = setTimer(Math.max(1, Math.ceil(next)), this.#unblock, undefined);
      } else {
        this.#stalled = true;
      }
      return undefined;
    }
    if ('then' in next) {
      this.#awaiting = true;
      next.then(this.#answered, this.#answered);
      return undefined;
    }
    const notes = next.notes;
    if (notes !== null && notes.timer !== undefined) {
      // A retry queued again with a total timeout running.
      clearTimeout(notes.timer);
      notes.timer = undefined;
    }
    this.#queued--;
    this.#running++;
    this.#checkEmpty();
    this.onShrink?.();
    return next;
  }

  readonly #answered = (): void => {
    this.#awaiting = false;
    this.#pump();
  };

  /** A rate-limit wait is over, or something changed that may let a job start sooner. */
  readonly #unblock = (): void => {
    this.#stalled = false;
    if (this.#blocked !== undefined) {
      clearTimeout(this.#blocked);
      this.#blocked = undefined;
    }
    this.#pump();
  };

  started(job: Job): void {
    if (this.events.starts) {
      this.events.emit('start', { taskId: job.id, attempt: job.attempts }, job);
    }
  }

  settle(job: Job, ending: Ending, inflight: number, cuts: number, attempt: Attempt): void {
    this.outcomes.settle(job, ending, inflight, cuts, attempt);
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

  /** The job waits for a retry, holding no slot. */
  wait(job: Job): void {
    this.#waiting++;
    this.admission.waiting?.(job);
  }

  /** A retry's wait is over: the job goes back in the queue, ahead of newer jobs of its priority. */
  back(job: Job): void {
    this.#waiting--;
    job.state = QUEUED;
    this.#queue.unshift(job);
    if (this.events.starts) {
      job.note().queuedAt = now();
    }
    this.#queued++;
    this.poke();
  }

  record(job: Job, result: DispatchResult): void {
    this.#settings.record(job, result);
  }

  #checkEmpty(): void {
    if (this.#queued + this.#waiting === 0) {
      this.#settings.empty();
    }
  }

  #checkIdle(): void {
    if (this.#queued + this.#running + this.#waiting === 0) {
      // An idle dispatcher holds no timer.
      if (this.#blocked !== undefined) {
        clearTimeout(this.#blocked);
        this.#blocked = undefined;
      }
      this.pause.stop();
      this.#settings.deadline?.stop();
      this.timeouts.stop();
      this.admission.idle?.();
      this.#settings.idle();
    }
  }

  #pump(): void {
    const limit = this.#cap.limit;
    // One waiting slot per queued job at most: a slot that finds nothing to start leaves at once.
    while (
      this.#asked < limit &&
      this.#asked - this.#running < this.#queued &&
      !this.pause.held &&
      this.#blocked === undefined &&
      !this.#awaiting &&
      !this.#stalled
    ) {
      this.#asked++;
      this.#cap.ask(this.#grant);
    }
  }

  readonly #grant = (): Promise<void> =>
    new Promise((release) => {
      this.#granted++;
      new Slot(this, release).next();
    });
}
