export { Dispatcher } from './dispatcher.js';
export type { DispatchOptions, DispatchResults } from './dispatcher.js';
export { dispatchParallel } from './dispatch-parallel.js';
export type { ParallelFunction, ParallelItem } from './dispatch-parallel.js';
export { Task } from './task.js';
export { ShutdownError, TaskFailedError, TaskIdError } from './errors.js';
export type { DispatcherOptions } from './options.js';
export { isNetworkError, isRetryable, retryAfterMs, statusOf } from './policies/retry.js';
export type { RetryOptions } from './policies/retry.js';
export type { AdaptiveOptions } from './policies/adaptive.js';
export type { DispatcherEvents, EventName, Listener, PauseReason } from './events.js';
export type { DispatchFailure, DispatchResult, DispatchSuccess } from './result.js';
export type {
  CheckedTasks,
  ContextTaskInit,
  ResultOf,
  TaskArgs,
  TaskContext,
  TaskFunction,
  TaskInit,
  TaskLike,
  TaskResultOf,
  TaskStatus,
} from './types.js';
