/**
 * One small class per failure kind, each with a fixed `name`, so callers can tell them apart
 * with `instanceof` or by `error.name` across realms and module copies.
 */

/** Thrown by `submit`/`dispatchNowait`, and rejected by `dispatch`, once `shutdown()` has been called. */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';

  constructor() {
    super('The dispatcher is shut down');
  }
}

/**
 * A task id that cannot be used here: already pending or running (or repeated within one batch) when
 * submitted, or unknown to `waitFor` (never submitted, or its result evicted by `maxResults`).
 */
export class TaskIdError extends RangeError {
  override readonly name = 'TaskIdError';
  readonly taskId: string;

  constructor(taskId: string, problem: string) {
    super(`Task id ${JSON.stringify(taskId)} ${problem}`);
    this.taskId = taskId;
  }
}

/** The rejection of a `dispatchParallel` call: the first task that did not succeed. */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';
  readonly taskId: string;
  /** Position of the failed item in the list handed to the wrapped function. */
  readonly index: number;

  constructor(taskId: string, index: number, reason: string, cause: unknown) {
    super(`Task ${JSON.stringify(taskId)} (item ${index}) failed: ${reason}`, { cause });
    this.taskId = taskId;
    this.index = index;
  }
}
