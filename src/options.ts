import { type AdaptiveOptions, type AdaptivePolicy, resolveAdaptive } from './policies/adaptive.js';
import { Budget, type BudgetOptions, type Usage } from './policies/budget.js';
import { type Deadline, resolveDeadline } from './policies/deadline.js';
import { RateLimiter, type RateLimitOptions } from './policies/rate-limit.js';
import { type RetryOptions, type RetryPolicy, resolveRetry, retryDefaults } from './policies/retry.js';
import { defaultUsageOf } from './policies/usage.js';
import { now } from './clock.js';
import { type Coordinator, isCoordinator } from './admission/coordinator.js';
import { checkCount, checkDuration, checkNumber, checkOptions, checkType, invalidType } from './validate.js';

/** What `new Dispatcher(options)` takes: each field optional, validated at construction. */
export interface DispatcherOptions {
  /** Most task functions running at once: an integer ≥ 1, or `Infinity`. Settable later as `dispatcher.maxWorkers`. @default 4 */
  readonly maxWorkers?: number;
  /** Per-attempt time limit in milliseconds, counted from the attempt's start; `Infinity` for none. A task's own `timeoutMs` overrides it. @default 30_000 */
  readonly timeoutMs?: number;
  /** Time limit across all attempts and the waits between them, from the first start; `Infinity` for none. @default Infinity */
  readonly totalTimeoutMs?: number;
  /** How long a timed-out or cancelled task that ignores its signal keeps its slot, in milliseconds; `Infinity` waits for it. @default 1_000 */
  readonly abortGraceMs?: number;
  /** Most finished results kept in `results` (oldest evicted first): an integer ≥ 1, or `Infinity`. @default 10_000 */
  readonly maxResults?: number;
  /** Retries for every task (a task's own `retry` overrides fields of it). Off by default (`retries: 0`). */
  readonly retry?: RetryOptions;
  /** AIMD concurrency between `min` and `max` (`maxWorkers`), driven by 429s, 503s, 529s and timeouts. @default false */
  readonly adaptive?: boolean | AdaptiveOptions;
  /** Requests- and tokens-per-minute token buckets, globally and by task `key`. @default none */
  readonly rateLimit?: RateLimitOptions;
  /** Caps on tokens, requests and money; once one is reached, queued tasks end as cancelled. @default none */
  readonly budget?: BudgetOptions;
  /** When everything must be over: epoch milliseconds (`Date.now() + ms`, not a duration), a `Date`, or a function returning the milliseconds left. @default none */
  readonly deadline?: Deadline;
  /** How long before the deadline everything is ended. @default 100 */
  readonly safetyMarginMs?: number;
  /** The tokens a successful task used, from its result, when it did not call `ctx.reportUsage`. @default `defaultUsageOf`: the openai SDK's, the AI SDK's or the Anthropic SDK's `usage` */
  readonly usageOf?: (result: unknown) => Usage | undefined;
  /**
   * The platform's way to keep a function alive for background work (Vercel's `waitUntil`, Cloudflare's
   * `ctx.waitUntil`): each task accepted by `submit` is handed to it as a promise of its result, and each
   * `dispatchNowait` batch as one promise. @default none
   */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * Each `submit` captures its caller's async context (AsyncLocalStorage, OpenTelemetry's active span),
   * and its task runs in it. Off, a submitted task runs in the context the dispatcher was made in, never
   * in another caller's; batches (`dispatch`, `stream`, `dispatchNowait`) always run in their call's.
   * Costs about 1 µs and 260 B per submit. `duta/otel`'s `instrument()` turns it on. @default false
   */
  readonly submitContext?: boolean;
  /**
   * Shares `rateLimit`, `budget` and the Retry-After pause with every dispatcher given a coordinator of
   * the same name, in any process: `redisCoordinator()` from `duta/redis` makes one. @default none
   */
  readonly coordinator?: Coordinator;
}

export interface ResolvedOptions {
  readonly maxWorkers: number;
  readonly timeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly abortGraceMs: number;
  readonly maxResults: number;
  readonly retry: RetryPolicy;
  readonly adaptive: AdaptivePolicy | undefined;
  readonly rateLimit: RateLimiter | undefined;
  readonly budget: Budget | undefined;
  readonly deadline: (() => number) | undefined;
  readonly safetyMarginMs: number;
  readonly usageOf: (result: unknown) => Usage | undefined;
  readonly waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  readonly submitContext: boolean;
  readonly coordinator: Coordinator | undefined;
}

const checks = {
  maxWorkers: checkCount,
  timeoutMs: checkDuration,
  totalTimeoutMs: checkDuration,
  abortGraceMs: checkDuration,
  maxResults: checkCount,
  retry: (name: string, value: unknown) => resolveRetry(name, value, retryDefaults),
  adaptive: (_: string, value: unknown) => value,
  rateLimit: (_: string, value: unknown) => new RateLimiter(value, now()),
  budget: (_: string, value: unknown) => new Budget(value),
  deadline: (_: string, value: unknown) => resolveDeadline(value),
  safetyMarginMs: (name: string, value: unknown) => checkNumber(name, value, 'a number ≥ 0', (n) => n >= 0 && n !== Infinity),
  usageOf: (name: string, value: unknown) => checkType(name, value, 'function'),
  waitUntil: (name: string, value: unknown) => checkType(name, value, 'function'),
  submitContext: (name: string, value: unknown) => checkType(name, value, 'boolean'),
  coordinator: (name: string, value: unknown) =>
    isCoordinator(value) ? value : invalidType(name, 'a coordinator (as `redisCoordinator()` of duta/redis makes)', value),
};

export const defaultOptions = {
  maxWorkers: 4,
  timeoutMs: 30_000,
  totalTimeoutMs: Infinity,
  abortGraceMs: 1_000,
  maxResults: 10_000,
  retry: retryDefaults,
  adaptive: undefined,
  rateLimit: undefined,
  budget: undefined,
  deadline: undefined,
  safetyMarginMs: 100,
  usageOf: defaultUsageOf,
  waitUntil: undefined,
  submitContext: false,
  coordinator: undefined,
};

/** What to write instead of the names other libraries (p-queue, p-limit, p-retry, bottleneck, SDKs) use. */
const aliases = {
  concurrency: 'maxWorkers',
  maxConcurrent: 'maxWorkers',
  maxConcurrency: 'maxWorkers',
  workers: 'maxWorkers',
  timeout: 'timeoutMs',
  retries: 'retry: { retries }',
  maxRetries: 'retry: { retries }',
  interval: 'rateLimit',
  intervalCap: 'rateLimit',
  minTime: 'rateLimit',
  reservoir: 'budget',
};

/** Validates every option, naming the option and the value received, and fills in the defaults. */
export function resolveOptions(options: DispatcherOptions = {}): ResolvedOptions {
  checkOptions('options', options, Object.keys(checks), aliases);
  const resolved: Record<string, unknown> = { ...defaultOptions };
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) {
      resolved[name] = checks[name as keyof typeof checks](name, value);
    }
  }
  resolved['adaptive'] = resolveAdaptive(resolved['adaptive'], resolved['maxWorkers'] as number);
  return resolved as unknown as ResolvedOptions;
}
