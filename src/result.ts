/** A task that finished with a value. */
export interface DispatchSuccess<R = unknown> {
  readonly taskId: string;
  readonly success: true;
  readonly status: 'done';
  readonly result: R;
  readonly error: null;
  /** From the first attempt's start to the end, in milliseconds, to 0.01 ms. */
  readonly durationMs: number;
  /** Attempts made, the successful one included. */
  readonly attempts: number;
  /**
   * Only on a result read from another instance of a fleet (`lookup`, `waitFor`) whose value could not be
   * serialized or read back: why. `result` is then `undefined`.
   */
  readonly unstored?: string;
}

/** A task that threw, timed out or was cancelled. */
export interface DispatchFailure {
  readonly taskId: string;
  readonly success: false;
  /** `'lost'`: read from another instance of a fleet, which stopped before the task ended. */
  readonly status: 'failed' | 'timeout' | 'cancelled' | 'lost';
  readonly result: null;
  /** Always a non-empty message, whatever the task threw. */
  readonly error: string;
  /**
   * What the task threw, or the abort reason (a `TimeoutError` `DOMException` for a timeout).
   * Not enumerable, so `JSON.stringify(result)` never trips over it.
   */
  readonly cause: unknown;
  /** From the first attempt's start to the end, in milliseconds to 0.01 ms; 0 for a task cancelled before it started. */
  readonly durationMs: number;
  /** Attempts made; 0 for a task cancelled before it started. */
  readonly attempts: number;
  /** Each attempt's error message, oldest first; the last one is usually `error`. */
  readonly attemptErrors: string[];
}

/** How each task ended: `if (r.success)` narrows `r.result` to the task's result type. */
export type DispatchResult<R = unknown> = DispatchSuccess<R> | DispatchFailure;

export type FailureStatus = DispatchFailure['status'];

/**
 * Milliseconds to 0.01 ms: the clock's float noise (`360.03961400000003`) says nothing, and a result is
 * data that gets logged and compared.
 */
export const roundMs = (ms: number): number => Math.round(ms * 100) / 100;

export function success<R>(taskId: string, result: R, durationMs: number, attempts: number): DispatchSuccess<R> {
  return { taskId, success: true, status: 'done', result, error: null, durationMs: roundMs(durationMs), attempts };
}

export function failure(
  taskId: string,
  status: FailureStatus,
  error: string,
  cause: unknown,
  durationMs: number,
  attempts: number,
  attemptErrors: string[],
): DispatchFailure {
  const result = { taskId, success: false as const, status, result: null, error, durationMs: roundMs(durationMs), attempts, attemptErrors };
  // Defined, not assigned: a read-only, non-enumerable property that JSON and spreads leave out.
  Object.defineProperty(result, 'cause', { value: cause });
  return result as DispatchFailure;
}

/**
 * The result with its index in the input, as `stream()` yields it. Built field by field: a spread of the
 * result cost a third of `stream()`'s time per task over trivial tasks.
 */
export function withIndex(result: DispatchResult, index: number): DispatchResult & { readonly index: number } {
  if (result.success) {
    const { taskId, result: value, durationMs, attempts } = result;
    return { taskId, success: true, status: 'done', result: value, error: null, durationMs, attempts, index };
  }
  const { taskId, status, error, durationMs, attempts, attemptErrors } = result;
  const item = { taskId, success: false as const, status, result: null, error, durationMs, attempts, attemptErrors, index };
  Object.defineProperty(item, 'cause', { value: result.cause });
  return item as DispatchFailure & { readonly index: number };
}

/** A non-empty message for anything a task may throw or reject with. */
export function messageOf(thrown: unknown, taskId: string): string {
  const message = typeof thrown === 'string' ? thrown : (thrown as { message?: unknown } | null | undefined)?.message;
  if (typeof message === 'string' && message !== '') {
    return message;
  }
  let shown: string;
  try {
    shown = String(thrown);
  } catch {
    // An object without a usable toString (a null prototype): its type is shown instead.
    shown = typeof thrown;
  }
  return `task ${JSON.stringify(taskId)} failed with ${shown === '' ? 'an empty string' : shown}`;
}
