import type { DispatchResult } from './result.js';
import type { TaskArgs, TaskFunction, TaskInit, TaskLike, TaskResultOf, TaskStatus } from './types.js';
import { checkDuration, checkFinite, checkObject, checkString, checkType, invalidType } from './validate.js';

/**
 * Marks Task instances across copies of this package: an app that loads both the ESM and the CommonJS
 * build has two `Task` classes, and either one's instances must count as tasks in both.
 */
const brand = Symbol.for('duta.Task');

/** A unit of work: `func(...args, ctx)`, with fields the dispatcher keeps up to date as it runs. */
export class Task<F extends TaskFunction = TaskFunction> {
  declare readonly id: string;
  declare readonly func: F;
  declare readonly args: Readonly<TaskArgs<F>>;
  declare readonly priority: number;
  declare readonly timeoutMs: number | undefined;
  /** `'pending'` → `'running'` → `'done'` | `'failed'` | `'timeout'` | `'cancelled'`. */
  readonly status: TaskStatus = 'pending';
  /** The value once `status` is `'done'`, else null. */
  readonly result: TaskResultOf<F> | null = null;
  /** The failure message once the task failed, timed out or was cancelled, else null. */
  readonly error: string | null = null;
  /** How long the task ran, once it has ended, else null. */
  readonly durationMs: number | null = null;

  constructor(init: TaskInit<F>) {
    Object.assign(this, readTaskFields(init, 'task'));
  }

  get [brand](): true {
    return true;
  }

  toJSON(): {
    id: string;
    func: string;
    args: Readonly<TaskArgs<F>>;
    priority: number;
    status: TaskStatus;
    result: TaskResultOf<F> | null;
    error: string | null;
    durationMs: number | null;
  } {
    return {
      id: this.id,
      func: this.func.name === '' ? 'anonymous' : this.func.name,
      args: this.args,
      priority: this.priority,
      status: this.status,
      result: this.result,
      error: this.error,
      durationMs: this.durationMs,
    };
  }
}

export const isTask = (value: unknown): value is Task => (value as { [brand]?: true } | null)?.[brand] === true;

export interface TaskFields {
  readonly id: string;
  readonly func: TaskFunction;
  readonly args: readonly unknown[];
  readonly priority: number;
  readonly timeoutMs: number | undefined;
}

/** Validates a `Task` or a plain task object; `where` names it in error messages (`task`, `tasks[2]`). */
export function readTaskFields(input: unknown, where: string): TaskFields {
  if (isTask(input)) {
    return input;
  }
  const { id, func, args = [], priority = 0, timeoutMs } = checkObject(where, input) as Partial<TaskLike>;
  checkString(`${where}.id`, id);
  checkType(`${where}.func`, func, 'function');
  if (!Array.isArray(args)) {
    invalidType(`${where}.args`, 'an array', args);
  }
  checkFinite(`${where}.priority`, priority);
  if (timeoutMs !== undefined) {
    checkDuration(`${where}.timeoutMs`, timeoutMs);
  }
  return { id: id as string, func: func as TaskFunction, args, priority, timeoutMs };
}

/** The fields the dispatcher keeps up to date on a `Task` it runs. */
type Progress = Pick<Task, 'status' | 'result' | 'error' | 'durationMs'>;

export const pending: Progress = { status: 'pending', result: null, error: null, durationMs: null };

/** Writes a task's progress fields, which are read-only to everyone else. */
export function track(task: Task, progress: Progress | DispatchResult): void {
  const { status, result, error, durationMs } = progress;
  Object.assign(task, { status, result, error, durationMs });
}
