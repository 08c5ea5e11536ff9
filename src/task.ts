import { type RetryOptions, resolveRetry, retryDefaults } from './policies/retry.js';
import type { DispatchResult } from './result.js';
import type { TaskArgs, TaskFunction, TaskInit, TaskLike, TaskResultOf, TaskStatus } from './types.js';
import { checkDuration, checkFinite, checkNumber, checkObject, checkString, checkType, invalidType, unknownKey } from './validate.js';

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
  declare readonly totalTimeoutMs: number | undefined;
  declare readonly retry: RetryOptions | undefined;
  declare readonly key: string | undefined;
  declare readonly cost: number | ((task: TaskLike) => number) | undefined;
  declare readonly signal: AbortSignal | undefined;
  /** `'pending'` → `'running'` → `'done'` | `'failed'` | `'timeout'` | `'cancelled'`. */
  readonly status: TaskStatus = 'pending';
  /** The value once `status` is `'done'`, else null. */
  readonly result: TaskResultOf<F> | null = null;
  /** The failure message once the task failed, timed out or was cancelled, else null. */
  readonly error: string | null = null;
  /** How long the task ran, once it has ended, else null. */
  readonly durationMs: number | null = null;

  constructor(init: TaskInit<F>) {
    Object.assign(this, readTaskFields(init));
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
  readonly totalTimeoutMs: number | undefined;
  readonly retry: RetryOptions | undefined;
  readonly key: string | undefined;
  readonly cost: number | ((task: TaskLike) => number) | undefined;
  readonly signal: AbortSignal | undefined;
}

/** The fields a task may have; any other is refused, so a typo such as `arg` is not silently ignored. */
export const taskFields: readonly string[] = ['id', 'func', 'args', 'priority', 'timeoutMs', 'totalTimeoutMs', 'retry', 'key', 'cost', 'signal'];

const nameOf = (at: number | undefined, field = ''): string => (at === undefined ? 'task' : `tasks[${at}]`) + field;

/** Shared by every task without arguments, so that none allocates an array of its own. */
export const noArgs: readonly unknown[] = Object.freeze([]);

/**
 * Validates a `Task` or a plain task object without copying it; `at` is its index in a batch, named in
 * error messages (`tasks[2].id`), or undefined for a single `task`. Names are built only when a check fails.
 */
export function checkTask(input: unknown, at?: number): asserts input is TaskLike {
  if (isTask(input)) {
    // Checked when it was made.
    return;
  }
  const { id, func, args, priority, timeoutMs, totalTimeoutMs, retry, key, cost, signal } = (input ?? {}) as Partial<TaskLike>;
  if (
    !(
      typeof id === 'string' &&
      id !== '' &&
      typeof func === 'function' &&
      (args === undefined || Array.isArray(args)) &&
      (priority === undefined || Number.isFinite(priority)) &&
      (timeoutMs === undefined || (typeof timeoutMs === 'number' && timeoutMs > 0)) &&
      typeof input === 'object' &&
      !Array.isArray(input)
    )
  ) {
    // The same checks again, one by one, to throw the error that names the field.
    checkObject(nameOf(at), input);
    checkString(nameOf(at, '.id'), id);
    checkType(nameOf(at, '.func'), func, 'function');
    if (args !== undefined && !Array.isArray(args)) {
      invalidType(nameOf(at, '.args'), 'an array', args);
    }
    checkFinite(nameOf(at, '.priority'), priority ?? 0);
    checkDuration(nameOf(at, '.timeoutMs'), timeoutMs as number);
  }
  for (const field in input as object) {
    switch (field) {
      case 'id':
      case 'func':
      case 'args':
      case 'priority':
      case 'timeoutMs':
      case 'totalTimeoutMs':
      case 'retry':
      case 'key':
      case 'cost':
      case 'signal':
        continue;
      default:
        unknownField(nameOf(at), field);
    }
  }
  if (totalTimeoutMs !== undefined) {
    checkDuration(nameOf(at, '.totalTimeoutMs'), totalTimeoutMs);
  }
  if (retry !== undefined) {
    resolveRetry(nameOf(at, '.retry'), retry, retryDefaults);
  }
  if (key !== undefined && typeof key !== 'string') {
    invalidType(nameOf(at, '.key'), 'a string', key);
  }
  if (cost !== undefined && typeof cost !== 'function') {
    checkCost(nameOf(at, '.cost'), cost);
  }
  // Duck-typed, as a batch's signal: one from another realm or a polyfill is accepted.
  if (signal !== undefined && typeof (signal as Partial<AbortSignal> | null)?.addEventListener !== 'function') {
    invalidType(nameOf(at, '.signal'), 'an AbortSignal', signal);
  }
}

function unknownField(task: string, field: string): never {
  throw unknownKey(task, field, taskFields, { arguments: 'args', timeout: 'timeoutMs', retries: 'retry' }, 'task field');
}

/** Validates a task and copies its fields, with their defaults: what a `Task` is made of. */
export function readTaskFields(input: unknown, at?: number): TaskFields {
  checkTask(input, at);
  const { id, func, args = noArgs, priority = 0, timeoutMs, totalTimeoutMs, retry, key, cost, signal } = input;
  return { id, func, args, priority, timeoutMs, totalTimeoutMs, retry, key, cost, signal };
}

/** A token estimate: a finite number ≥ 0. */
export const checkCost = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a finite number ≥ 0 (estimated tokens), or a function returning one', (n) => n >= 0 && n !== Infinity);

/** The task's estimated tokens: its `cost`, or what its `cost` function returns for it. */
export function costOf(input: TaskLike, at?: number): number {
  const { cost } = input;
  if (cost === undefined) {
    return 0;
  }
  return checkCost(nameOf(at, '.cost()'), typeof cost === 'function' ? cost(input) : cost);
}

/** Writes a task's progress fields, which are read-only to everyone else: a status before the end, then its result. */
export function track(task: Task, progress: 'pending' | 'running' | DispatchResult): void {
  const { status, result = null, error = null, durationMs = null } = typeof progress === 'string' ? { status: progress } : progress;
  Object.assign(task, { status, result, error, durationMs });
}
