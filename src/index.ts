export { Dispatcher } from './dispatcher.js';
export type { DispatchOptions, DispatchProgress, DispatchResults, StreamOptions, StreamResult } from './dispatcher.js';
export type { DispatcherStats } from './stats.js';
export { dispatchParallel } from './dispatch-parallel.js';
export type { ParallelFunction, ParallelItem } from './dispatch-parallel.js';
export { Task } from './task.js';
export { ShutdownError, TaskFailedError, TaskIdError } from './errors.js';
export type { DispatcherOptions } from './options.js';
export type { Coordinator, UnfinishedTask } from './admission/coordinator.js';
export { isNetworkError, isRetryable, retryAfterMs, statusOf } from './policies/retry.js';
export { aiSdkUsage, anthropicUsage, defaultUsageOf, openAiUsage } from './policies/usage.js';
export type { RetryOptions } from './policies/retry.js';
export type { AdaptiveOptions } from './policies/adaptive.js';
export type { BudgetOptions, Usage } from './policies/budget.js';
export type { Deadline } from './policies/deadline.js';
export type { KeyRateLimit, RateLimitOptions } from './policies/rate-limit.js';
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
