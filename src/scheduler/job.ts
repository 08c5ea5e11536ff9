import type { Timer } from '../clock.js';
import type { Usage } from '../policies/budget.js';
import type { RetryPolicy } from '../policies/retry.js';
import type { DispatchResult } from '../result.js';
import type { Task, TaskFields } from '../task.js';
import type { TaskFunction } from '../types.js';
import type { Gate } from './gate.js';
import type { Slot } from './slot.js';

export const QUEUED = 0;
export const RUNNING = 1;
/** The result is recorded. The function may still be running, abandoned after a timeout or cancel. */
export const SETTLED = 2;
/** An attempt failed and the job waits, holding no slot, to be queued again. */
export const WAITING = 3;
export type JobState = typeof QUEUED | typeof RUNNING | typeof SETTLED | typeof WAITING;

/** A batch (a `dispatch` or a `stream` call) hearing its jobs' results, and counting those running. */
export interface JobGroup {
  /** Attempts of the batch running now. */
  running: number;
  settle(index: number, result: DispatchResult): void;
}

/** What a job takes from the dispatcher's options, resolved with the task's own overrides. */
export interface JobSettings {
  readonly timeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly retry: RetryPolicy;
}

let sequence = 0;

/**
 * The dispatcher's private record of one accepted task. Every field is set in the constructor, with
 * its final kind of value, so all jobs share one shape.
 */
export class Job {
  readonly id: string;
  readonly func: TaskFunction;
  readonly args: readonly unknown[];
  readonly priority: number;
  /** The dispatcher's shared settings, or this task's copy with its overrides. */
  readonly settings: JobSettings;
  /** Rate-limit scope and fair-turn group; '' for tasks without a key. */
  readonly key: string;
  /** Estimated tokens, reserved at each start. */
  readonly cost: number;
  /** Acceptance order, which a retry keeps when it is queued again. */
  readonly seq = sequence++;
  state: JobState = QUEUED;
  /** Attempts started so far. */
  attempts = 0;
  /**
   * When the first attempt started (from `now()`), or -Infinity before: a double from the start, since a
   * field that begins as a small integer and later holds a float deoptimises every instance.
   */
  startedAt = -Infinity;
  /** Each failed attempt's message, oldest first, or null before the first failure. */
  errors: string[] | null = null;
  /** While running: the slot running it, which can end it early. */
  slot: Slot | null = null;
  /** While waiting to retry: the timer that queues it again. */
  timer: Timer = undefined;
  waiters: ((result: DispatchResult) => void)[] | null = null;
  /** The job behind this one in its priority's queue. */
  next: Job | null = null;
  /** When it was last queued, if a `start` listener wanted to know (see `EventSubject`). */
  queuedAt = -Infinity;
  /** The usage its last attempt reported. */
  usage: Usage | undefined = undefined;

  constructor(
    fields: Pick<TaskFields, 'id' | 'func' | 'args' | 'priority' | 'key'>,
    cost: number,
    settings: JobSettings,
    readonly task: Task | null,
    readonly group: JobGroup | null,
    readonly index: number,
    /** Runs the function in the async context the task was submitted from; null runs it where the slot is. */
    readonly gate: Gate | null,
  ) {
    this.id = fields.id;
    this.func = fields.func;
    this.args = fields.args;
    this.priority = fields.priority;
    this.settings = settings;
    this.key = fields.key ?? '';
    this.cost = cost;
  }

  /** The error of a job whose `totalTimeoutMs` ran out, running or waiting in the queue. */
  totalTimeoutError(): string {
    return `task ${JSON.stringify(this.id)} timed out after ${this.settings.totalTimeoutMs} ms in total (totalTimeoutMs), over ${this.attempts} attempt(s)`;
  }
}
