import type { DispatchResult } from '../result.js';
import type { Task, TaskFields } from '../task.js';
import type { TaskFunction } from '../types.js';
import type { Slot } from './slot.js';

export const QUEUED = 0;
export const RUNNING = 1;
/** The result is recorded. The function may still be running, abandoned after a timeout or cancel. */
export const SETTLED = 2;
export type JobState = typeof QUEUED | typeof RUNNING | typeof SETTLED;

/** Hears a job's result besides the result store: a `dispatch` call collecting its batch. */
export type JobGroup = (index: number, result: DispatchResult) => void;

/**
 * The dispatcher's private record of one accepted task. Every field is set in the constructor, with
 * its final kind of value, so all jobs share one shape.
 */
export class Job {
  readonly id: string;
  readonly func: TaskFunction;
  readonly args: readonly unknown[];
  readonly priority: number;
  readonly timeoutMs: number;
  state: JobState = QUEUED;
  /** Attempts started so far. */
  attempts = 0;
  /** While running: the slot running it, which can end it early. */
  slot: Slot | null = null;
  waiters: ((result: DispatchResult) => void)[] | null = null;
  /** The job behind this one in its priority's queue. */
  next: Job | null = null;

  constructor(
    fields: TaskFields,
    defaultTimeoutMs: number,
    readonly task: Task | null,
    readonly group: JobGroup | null,
    readonly index: number,
  ) {
    this.id = fields.id;
    this.func = fields.func;
    this.args = fields.args;
    this.priority = fields.priority;
    this.timeoutMs = fields.timeoutMs ?? defaultTimeoutMs;
  }
}
