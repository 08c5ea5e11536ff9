import type { Timer } from '../clock.js';
import type { Usage } from '../policies/budget.js';
import type { RetryPolicy } from '../policies/retry.js';
import type { DispatchResult } from '../result.js';
import type { Task } from '../task.js';
import type { TaskFunction } from '../types.js';
import type { Gate } from './gate.js';
import type { TimeoutList } from './timeouts.js';

export const QUEUED = 0;
export const RUNNING = 1;
/** The result is recorded. The function may still be running, abandoned after a timeout or cancel. */
export const SETTLED = 2;
/** An attempt failed and the job waits, holding no slot, to be queued again. */
export const WAITING = 3;
export type JobState = typeof QUEUED | typeof RUNNING | typeof SETTLED | typeof WAITING;

/** Who hears a job's result besides its waiters: a batch (a `dispatch` or `stream` call). */
export interface JobOwner {
  /** Attempts of the batch running now. */
  running: number;
  /** Runs the batch's functions in the async context of its call. */
  readonly gate: Gate;
  settle(job: Job, result: DispatchResult): void;
}

/** What a job takes from the dispatcher's options, resolved with the task's own overrides. */
export interface JobSettings {
  readonly timeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly retry: RetryPolicy;
  /** The shared expiry list of attempts with this `timeoutMs`; null for `Infinity`. */
  readonly timeouts: TimeoutList | null;
}

/** The part of a running attempt that can end it early: its slot. */
export interface Runner {
  abort(status: 'timeout' | 'cancelled', reason: unknown, error: string, final: boolean): void;
}

export type Waiter = (result: DispatchResult) => void;

/** The fields of a job that only some features use. */
export class JobNotes {
  /** Each failed attempt's message, oldest first, or null before the first failure. */
  errors: string[] | null = null;
  /** The usage its last attempt reported. */
  usage: Usage | undefined = undefined;
  /** When it was last queued (from `now()`), if a `start` listener wanted to know. */
  queuedAt: number | null = null;
  /** What the admission that let the current attempt start holds for it (a fleet lease). */
  ticket: unknown = null;
  /** Removes the listener on the task's own `signal`, when it has one. */
  unlink: (() => void) | null = null;
  /** While waiting to retry, or queued again with a total timeout: the timer that moves it on. */
  timer: Timer = undefined;
  /** The `Task` it was given as, whose progress fields it keeps up to date. */
  task: Task | null = null;
  /** For a job outside a batch whose function runs in an async context of its own (see `Gate`). */
  gate: Gate | null = null;
}

let sequence = 0;

/**
 * The dispatcher's private record of one accepted task. Every field is set in the constructor, with
 * its final kind of value, so all jobs share one shape; what only some features need lives in `notes`,
 * made on first use.
 *
 * Every field is paid for by every queued job, and a big batch of jobs is what the garbage collector
 * copies while they wait: the gate, the `Task`, the retry timer and the rest of what few jobs use are in
 * the notes, so a job is 17 fields (about 80 bytes).
 */
export class Job {
  /** Acceptance order, which a retry keeps when it is queued again. */
  readonly seq = sequence++;
  state: JobState = QUEUED;
  /** Attempts started so far. */
  attempts = 0;
  /**
   * When the first attempt started (from `now()`), or null before. Null, not a number, so that a queued
   * job holds no boxed double of its own (a double field is a heap number per object), and so that the
   * field never changes kind from a small integer to a float, which deoptimises every instance.
   */
  startedAt: number | null = null;
  /** The job behind this one in its priority's queue. */
  next: Job | null = null;
  /** While running: the slot running it, which can end it early. */
  runner: Runner | null = null;
  /** Resolvers of `waitFor` promises: none, one, or several. */
  waiters: Waiter | Waiter[] | null = null;
  /** What only some jobs need, made on first use (`note()`), so the common job stays small. */
  notes: JobNotes | null = null;

  constructor(
    readonly id: string,
    readonly func: TaskFunction,
    readonly args: readonly unknown[],
    readonly priority: number,
    /** Rate-limit scope and fair-turn group; '' for tasks without a key. */
    readonly key: string,
    /** Estimated tokens, reserved at each start. */
    readonly cost: number,
    /** The dispatcher's shared settings, or this task's copy with its overrides. */
    readonly settings: JobSettings,
    readonly owner: JobOwner | null,
    /** Its index in its batch; 0 for a submitted task. */
    readonly index: number,
  ) {}

  note(): JobNotes {
    return (this.notes ??= new JobNotes());
  }

  /** When it was last queued, if a `start` listener wanted to know (see `EventSubject`). */
  get queuedAt(): number {
    return this.notes?.queuedAt ?? -Infinity;
  }

  /** The `Task` it was given as, if it was. */
  get task(): Task | null {
    return this.notes?.task ?? null;
  }

  /** The usage its last attempt reported. */
  get usage(): Usage | undefined {
    return this.notes?.usage;
  }

  /** The error of a job whose `totalTimeoutMs` ran out, running or waiting in the queue. */
  totalTimeoutError(): string {
    return `task ${JSON.stringify(this.id)} timed out after ${this.settings.totalTimeoutMs} ms in total (totalTimeoutMs), over ${this.attempts} attempt(s)`;
  }
}
