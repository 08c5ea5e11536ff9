/// <reference lib="esnext.disposable" preserve="true" />
// Declares Symbol.asyncDispose for users whose `lib` predates it, so the declarations compile for them too.
import { ShutdownError, TaskIdError } from './errors.js';
import { Emitter, type EventName, type InternalListener, INSTRUMENT, type Listener } from './events.js';
import { type DispatcherStats, Stats } from './stats.js';
import { resolveRetry } from './policies/retry.js';
import { type DispatcherOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { type DispatchResult, messageOf } from './result.js';
import { ResultStore } from './result-store.js';
import { Job, type JobGroup, type JobSettings, RUNNING } from './scheduler/job.js';
import { Gate } from './scheduler/gate.js';
import { Scheduler } from './scheduler/scheduler.js';
import { costOf, isTask, readTaskFields, type Task, track } from './task.js';
import type { CheckedTasks, ContextTaskInit, ResultOf, TaskFunction, TaskInit, TaskLike } from './types.js';
import { checkCount, checkNumber, checkOptions, checkType, invalidType } from './validate.js';

/** The options of one `dispatch` call. */
export interface DispatchOptions {
  /** Aborting it ends the batch's unfinished tasks as `cancelled`; `dispatch` still resolves. */
  readonly signal?: AbortSignal;
  /** Called after each result of the batch; a listener that throws is skipped over. */
  readonly onProgress?: (progress: DispatchProgress) => void;
}

/** A batch's progress: `done` counts successes, `failed` every other outcome, `running` the attempts running now. */
export interface DispatchProgress {
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  readonly total: number;
}

/** The options of one `stream` call. */
export interface StreamOptions {
  /** Aborting it cancels the unfinished tasks; the stream still yields their `cancelled` results, then ends. */
  readonly signal?: AbortSignal;
}

/** A result as `stream()` yields it: the task's `DispatchResult` and its index in the input. */
export type StreamResult<R = unknown> = DispatchResult<R> & { readonly index: number };

/** One result per task of a `dispatch` call, in input order, each typed from its task's `func`. */
export type DispatchResults<T extends readonly unknown[]> = { -readonly [K in keyof T]: DispatchResult<ResultOf<T[K]>> };

/**
 * Runs tasks at most `maxWorkers` at a time, highest priority first, each with a timeout that aborts
 * its signal, and records exactly one result per task.
 */
export class Dispatcher {
  readonly #options: ResolvedOptions;
  readonly #scheduler: Scheduler;
  readonly #store: ResultStore;
  /** Pending and running jobs by id: ids must be unique among them. */
  readonly #live = new Map<string, Job>();
  readonly #events = new Emitter();
  /** What every job gets unless its task overrides it. */
  readonly #settings: JobSettings;
  #closed = false;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #emptyWaiters: (() => void)[] = [];
  readonly #stats = new Stats();

  constructor(options?: DispatcherOptions) {
    const resolved = (this.#options = resolveOptions(options));
    this.#store = new ResultStore(resolved.maxResults);
    this.#settings = { timeoutMs: resolved.timeoutMs, totalTimeoutMs: resolved.totalTimeoutMs, retry: resolved.retry };
    this.#scheduler = new Scheduler({
      maxWorkers: resolved.maxWorkers,
      abortGraceMs: resolved.abortGraceMs,
      adaptive: resolved.adaptive,
      // Read at each call, so a test can replace Math.random with a seeded generator.
      random: () => Math.random(),
      limiter: resolved.rateLimit,
      budget: resolved.budget,
      timeLeft: resolved.deadline,
      safetyMarginMs: resolved.safetyMarginMs,
      usageOf: resolved.usageOf,
      expire: (error, running) => this.#expire(error, running),
      record: (job, result) => this.#record(job, result),
      idle: () => this.#onIdle(),
      empty: () => resolveAll(this.#emptyWaiters.splice(0), undefined),
      events: this.#events,
    });
  }

  /**
   * Most task functions running at once; raising it starts queued tasks at once. In adaptive mode it
   * is the adaptive `max`, and `currentLimit` moves below it.
   */
  get maxWorkers(): number {
    return this.#scheduler.maxWorkers;
  }

  set maxWorkers(value: number) {
    this.#scheduler.maxWorkers = checkCount('maxWorkers', value);
  }

  /** The concurrency limit in force: adaptive mode's current limit, else `maxWorkers`. */
  get currentLimit(): number {
    return this.#scheduler.limit;
  }

  /** True while starts are paused (`pause()`, `pauseFor()`, or a 429/503 with a Retry-After); running tasks go on. */
  get paused(): boolean {
    return this.#scheduler.paused;
  }

  /** Stops starting tasks until `resume()`; running ones continue. */
  pause(): void {
    this.#scheduler.pause();
  }

  /** Stops starting tasks for `ms` milliseconds, or leaves a longer pause in place. */
  pauseFor(ms: number): void {
    this.#scheduler.pauseFor(checkNumber('ms', ms, 'a number ≥ 0', (n) => n >= 0));
  }

  /** Starts tasks again, ending any pause. */
  resume(): void {
    this.#scheduler.resume();
  }

  /** Listens to an event; returns the function that stops listening. An unknown name is a `TypeError`. */
  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    return this.#events.on(name, listener);
  }

  /** For `duta/otel`: like `on`, and the listener also hears the event's subject. Not for users. */
  [INSTRUMENT]<K extends EventName>(name: K, listener: InternalListener<K>): () => void {
    return this.#events.listen(name, listener);
  }

  /** Slots held: running tasks, including timed-out or cancelled ones still inside their grace. */
  get activeCount(): number {
    return this.#scheduler.running;
  }

  /** Tasks accepted and not running: not started yet, or waiting to retry. */
  get pendingCount(): number {
    return this.#scheduler.queued + this.#scheduler.waiting;
  }

  /** Finished results by task id, from `submit` and `dispatch` alike; at most `maxResults`, oldest evicted first. */
  get results(): ReadonlyMap<string, DispatchResult> {
    return this.#store;
  }

  /** Queues one task to run in the background and returns its id; its result is kept for `getResult`/`waitFor`. */
  submit<R>(task: ContextTaskInit<R>): string;
  submit<F extends TaskFunction>(task: Task<F> | TaskInit<F>): string;
  submit(task: TaskLike): string {
    const job = this.#accept([task], true)[0] as Job;
    this.#handOver(() => this.#promiseOf(job));
    return job.id;
  }

  /**
   * Gives background work to the platform's `waitUntil`, so the function is kept alive until it ends.
   * The promise is made only then: without `waitUntil`, a submit costs none.
   */
  #handOver(work: () => Promise<unknown>): void {
    const { waitUntil } = this.#options;
    if (waitUntil !== undefined) {
      try {
        waitUntil(work());
      } catch {
        // A platform hook that throws must not lose the work: it is queued already.
      }
    }
  }

  /**
   * Runs all tasks and resolves with one result per task, in input order. Never rejects because a task
   * failed; rejects before running anything on invalid input or after `shutdown()`.
   */
  dispatch<const T extends readonly ContextTaskInit[]>(tasks: T, options?: DispatchOptions): Promise<DispatchResults<T>>;
  dispatch<const T extends readonly TaskLike[]>(
    tasks: T & CheckedTasks<T>,
    options?: DispatchOptions,
  ): Promise<DispatchResults<T>>;
  dispatch(tasks: readonly TaskLike[], options?: DispatchOptions): Promise<DispatchResult[]> {
    // Thrown validation errors inside the executor become the rejection, before any task is queued.
    return new Promise<DispatchResult[]>((resolve) => {
      const { signal, onProgress } = readDispatchOptions(options, ['signal', 'onProgress']);
      const inputs = checkTaskList(tasks);
      const total = inputs.length;
      const results = new Array<DispatchResult>(total);
      let remaining = total;
      let succeeded = 0;
      let unlink: (() => void) | undefined;
      const group: JobGroup = {
        running: 0,
        settle(index, result) {
          results[index] = result;
          remaining--;
          if (onProgress !== undefined) {
            succeeded += result.success ? 1 : 0;
            const progress = { done: succeeded, failed: total - remaining - succeeded, running: group.running, total };
            try {
              onProgress(progress);
            } catch {
              // A progress callback's bug must not break the dispatch.
            }
          }
          if (remaining === 0) {
            unlink?.();
            resolve(results);
          }
        },
      };
      const jobs = this.#accept(inputs, false, group);
      if (remaining === 0) {
        resolve(results);
      } else if (signal !== undefined) {
        unlink = this.#link(jobs, signal);
      }
    });
  }

  /**
   * Runs all tasks and yields each result as it finishes, with its input `index`. Tasks start at the
   * call. Leaving the loop early (`break`, `return`, a throw) cancels the tasks not finished: queued ones
   * never start, running ones see their signal abort. Throws at once on invalid input.
   */
  stream<const T extends readonly ContextTaskInit[]>(tasks: T, options?: StreamOptions): AsyncIterableIterator<StreamResult<ResultOf<T[number]>>>;
  stream<const T extends readonly TaskLike[]>(
    tasks: T & CheckedTasks<T>,
    options?: StreamOptions,
  ): AsyncIterableIterator<StreamResult<ResultOf<T[number]>>>;
  stream(tasks: readonly TaskLike[], options?: StreamOptions): AsyncIterableIterator<StreamResult> {
    const { signal } = readDispatchOptions(options, ['signal']);
    const inputs = checkTaskList(tasks);
    /** Results not yet pulled, and pulls not yet answered: one of the two is always empty. */
    const ready: StreamResult[] = [];
    const pulls: ((step: IteratorResult<StreamResult, undefined>) => void)[] = [];
    let remaining = inputs.length;
    let unlink: (() => void) | undefined;
    let closed = false;
    const end = (): void => {
      for (const pull of pulls.splice(0)) {
        pull({ done: true, value: undefined });
      }
    };
    const group: JobGroup = {
      running: 0,
      settle(index, result) {
        remaining--;
        const item = { ...result, index };
        if (!result.success) {
          // The spread leaves out the non-enumerable cause.
          Object.defineProperty(item, 'cause', { value: result.cause });
        }
        const pull = pulls.shift();
        if (pull !== undefined) {
          pull({ done: false, value: item });
        } else if (!closed) {
          ready.push(item);
        }
        if (remaining === 0) {
          // Every task is accounted for: the caller's signal is let go even if the stream is never read.
          unlink?.();
          end();
        }
      },
    };
    const jobs = this.#accept(inputs, false, group);
    if (signal !== undefined && remaining > 0) {
      unlink = this.#link(jobs, signal);
    }
    const close = (): void => {
      if (!closed) {
        closed = true;
        ready.length = 0;
        unlink?.();
        this.#cancel(jobs, new DOMException('The stream was closed before the task finished', 'AbortError'));
        end();
      }
    };
    const stream: AsyncIterableIterator<StreamResult> = {
      next: () => {
        const value = ready.shift();
        if (value !== undefined) {
          return Promise.resolve({ done: false, value });
        }
        if (closed || remaining === 0) {
          return Promise.resolve({ done: true, value: undefined });
        }
        // Pulls made before results arrive are answered in order.
        return new Promise((resolve) => pulls.push(resolve));
      },
      return: () => {
        close();
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => stream,
    };
    return stream;
  }

  /** Queues all tasks and returns a promise of each one's result by id, without waiting. */
  dispatchNowait<const T extends readonly ContextTaskInit[]>(tasks: T): Map<string, Promise<DispatchResult<ResultOf<T[number]>>>>;
  dispatchNowait<const T extends readonly TaskLike[]>(
    tasks: T & CheckedTasks<T>,
  ): Map<string, Promise<DispatchResult<ResultOf<T[number]>>>>;
  dispatchNowait(tasks: readonly TaskLike[]): Map<string, Promise<DispatchResult>> {
    const promises = new Map<string, Promise<DispatchResult>>();
    for (const job of this.#accept(checkTaskList(tasks), false)) {
      promises.set(job.id, this.#promiseOf(job));
    }
    // Background work too: one promise for the batch, which never rejects.
    this.#handOver(() => Promise.all(promises.values()));
    return promises;
  }

  /** The task's result once it has finished; `undefined` while it is pending or running, or for an unknown id. */
  getResult<R = unknown>(id: string): DispatchResult<R> | undefined {
    return this.#store.get(id) as DispatchResult<R> | undefined;
  }

  /** Resolves with the task's result when it finishes; rejects with a `TaskIdError` for an id never seen or evicted. */
  waitFor<R = unknown>(id: string): Promise<DispatchResult<R>> {
    const job = this.#live.get(id);
    if (job !== undefined) {
      return this.#promiseOf(job) as Promise<DispatchResult<R>>;
    }
    const result = this.#store.get(id);
    if (result !== undefined) {
      return Promise.resolve(result as DispatchResult<R>);
    }
    return Promise.reject(new TaskIdError(String(id), 'is unknown or evicted'));
  }

  /**
   * Stops accepting work. `wait = true` lets everything queued and running finish; `wait = false`
   * cancels queued tasks and aborts running ones. Resolves when no task holds a slot. Idempotent;
   * `shutdown(false)` after `shutdown(true)` cancels what is left.
   */
  shutdown(wait = true): Promise<void> {
    try {
      checkType('wait', wait, 'boolean');
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closed = true;
    if (!wait) {
      this.#cancel(this.#live.values(), new DOMException('The dispatcher shut down', 'AbortError'));
    }
    return this.onIdle();
  }

  /** Resolves when nothing is queued, running or waiting to retry, and no slot is held (timed-out tasks inside their grace included). */
  onIdle(): Promise<void> {
    if (this.#scheduler.queued + this.#scheduler.running + this.#scheduler.waiting === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Resolves when nothing is queued or waiting to retry; tasks may still be running. */
  onEmpty(): Promise<void> {
    if (this.#scheduler.queued + this.#scheduler.waiting === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  /** Counts, the limit in force, throughput and duration percentiles over the last 1024 tasks. */
  stats(): DispatcherStats {
    const scheduler = this.#scheduler;
    return this.#stats.snapshot(scheduler.queued + scheduler.waiting, scheduler.running, scheduler.limit, scheduler.retries);
  }

  /** `await using dispatcher = new Dispatcher()` shuts it down, waiting for its tasks, at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown(true);
  }

  #accept(inputs: readonly unknown[], single: boolean, group: JobGroup | null = null): Job[] {
    if (this.#closed) {
      throw new ShutdownError();
    }
    const live = this.#live;
    const jobs: Job[] = [];
    // One gate for the call: the batch's functions run in the caller's async context.
    const gate = new Gate(this.#scheduler.hops);
    try {
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i];
        const fields = readTaskFields(input, single ? undefined : i);
        // A repeat within the batch is caught too: its first occurrence is already in `live`.
        if (live.has(fields.id)) {
          throw new TaskIdError(fields.id, 'is already pending or running');
        }
        const { timeoutMs, totalTimeoutMs, retry } = fields;
        const shared = this.#settings;
        // A task that overrides nothing shares the dispatcher's settings object.
        const settings: JobSettings =
          timeoutMs === undefined && totalTimeoutMs === undefined && retry === undefined
            ? shared
            : {
                timeoutMs: timeoutMs ?? shared.timeoutMs,
                totalTimeoutMs: totalTimeoutMs ?? shared.totalTimeoutMs,
                retry: retry === undefined ? shared.retry : resolveRetry(`${single ? 'task' : `tasks[${i}]`}.retry`, retry, shared.retry),
              };
        const job = new Job(fields, costOf(fields, input, single ? undefined : i), settings, isTask(input) ? input : null, group, i, gate);
        live.set(job.id, job);
        jobs.push(job);
      }
    } catch (error) {
      // All or nothing: a batch with one bad task queues none of them.
      for (const job of jobs) {
        live.delete(job.id);
      }
      throw error;
    }
    for (const job of jobs) {
      if (job.task !== null) {
        track(job.task, 'pending');
      }
      this.#store.delete(job.id);
      this.#scheduler.enqueue(job);
    }
    return jobs;
  }

  /** Cancels the batch's unfinished jobs when `signal` aborts; returns the unlink function. */
  #link(jobs: readonly Job[], signal: AbortSignal): () => void {
    const cancel = (): void => this.#cancel(jobs, signal.reason);
    if (signal.aborted) {
      cancel();
    } else {
      signal.addEventListener('abort', cancel, { once: true });
    }
    // Optional: a duck-typed signal need only have addEventListener.
    return () => signal.removeEventListener?.('abort', cancel);
  }

  /** Ends unfinished jobs as `cancelled`: queued ones without starting, running ones by aborting their signal. */
  #cancel(jobs: Iterable<Job>, reason: unknown): void {
    for (const job of [...jobs]) {
      this.#scheduler.cancel(job, reason, `task ${JSON.stringify(job.id)} was cancelled: ${messageOf(reason, job.id)}`);
    }
  }

  /** Ends unfinished jobs at the budget's end (queued and waiting ones) or the deadline (running ones too). */
  #expire(error: string, running: boolean): void {
    const jobs = [...this.#live.values()].filter((job) => running || job.state !== RUNNING);
    this.#cancel(jobs, new DOMException(error, running ? 'TimeoutError' : 'AbortError'));
  }

  #record(job: Job, result: DispatchResult): void {
    this.#live.delete(job.id);
    this.#store.add(result);
    this.#stats.record(result, job.startedAt + result.durationMs);
    if (job.task !== null) {
      track(job.task, result);
    }
    job.group?.settle(job.index, result);
    if (job.waiters !== null) {
      resolveAll(job.waiters, result);
      job.waiters = null;
    }
    if (this.#events.has('settle')) {
      this.#events.emit('settle', result, job);
    }
  }

  #promiseOf(job: Job): Promise<DispatchResult> {
    return new Promise((resolve) => {
      (job.waiters ??= []).push(resolve);
    });
  }

  #onIdle(): void {
    this.#events.emit('idle', undefined);
    resolveAll(this.#idleWaiters.splice(0), undefined);
  }
}

/** Resolves every waiter with `value`. */
function resolveAll<T>(waiters: readonly ((value: T) => void)[], value: T): void {
  for (const resolve of waiters) {
    resolve(value);
  }
}

function checkTaskList(tasks: unknown): readonly unknown[] {
  if (!Array.isArray(tasks)) {
    invalidType('tasks', 'an array', tasks);
  }
  return tasks;
}

function readDispatchOptions(options: DispatchOptions | undefined, known: readonly string[]): DispatchOptions {
  if (options === undefined) {
    return {};
  }
  checkOptions('options', options, known);
  const { signal, onProgress } = options;
  // Duck-typed rather than `instanceof`, so a signal from another realm or a polyfill is accepted.
  if (signal !== undefined && typeof signal?.addEventListener !== 'function') {
    invalidType('options.signal', 'an AbortSignal', signal);
  }
  if (onProgress !== undefined) {
    checkType('options.onProgress', onProgress, 'function');
  }
  return options;
}
