/// <reference lib="esnext.disposable" preserve="true" />
// Declares Symbol.asyncDispose for users whose `lib` predates it, so the declarations compile for them too.
import { type Admission, OpenAdmission } from './admission/admission.js';
import { DeadlineWatch } from './admission/deadline.js';
import { ATTACH } from './admission/coordinator.js';
import { LocalAdmission } from './admission/local.js';
import { type DispatchProgress, DispatchBatch, type StreamResult, StreamBatch } from './batch.js';
import { Gate } from './core/gate.js';
import { type Job, RUNNING } from './core/job.js';
import { Scheduler } from './core/scheduler.js';
import { ShutdownError, TaskIdError } from './errors.js';
import { Emitter, type EventName, type InternalListener, INSTRUMENT, type Listener, SUBMIT_CONTEXT } from './events.js';
import { type DispatcherOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Registry } from './registry.js';
import { type DispatchResult, messageOf } from './result.js';
import { type DispatcherStats, Stats } from './stats.js';
import type { Task } from './task.js';
import type { CheckedTasks, ContextTaskInit, ResultOf, TaskFunction, TaskInit, TaskLike } from './types.js';
import { checkCount, checkNumber, checkOptions, checkType, invalidType } from './validate.js';

export type { DispatchProgress, StreamResult } from './batch.js';

export interface DispatchOptions {
  /** Aborting it ends the batch's unfinished tasks as `cancelled`; `dispatch` still resolves. */
  readonly signal?: AbortSignal;
  /** Called after each result of the batch; a listener that throws is skipped over. */
  readonly onProgress?: (progress: DispatchProgress) => void;
}

export interface StreamOptions {
  /** Aborting it cancels the unfinished tasks; the stream still yields their `cancelled` results, then ends. */
  readonly signal?: AbortSignal;
}

/** One result per task of a `dispatch` call, in input order, each typed from its task's `func`. */
export type DispatchResults<T extends readonly unknown[]> = { -readonly [K in keyof T]: DispatchResult<ResultOf<T[K]>> };

/**
 * Runs tasks at most `maxWorkers` at a time, highest priority first, each with a timeout that aborts
 * its signal, and records exactly one result per task.
 */
export class Dispatcher {
  readonly #options: ResolvedOptions;
  readonly #scheduler: Scheduler;
  readonly #registry: Registry;
  readonly #events = new Emitter();
  readonly #stats = new Stats();
  /** The async context this dispatcher was made in: submitted tasks run in it unless `submitContext`. */
  readonly #home: Gate;
  #closed = false;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #emptyWaiters: (() => void)[] = [];
  /** Set by `duta/otel`: each submit captures its caller's async context, so spans nest under it. */
  [SUBMIT_CONTEXT]: boolean;

  constructor(options?: DispatcherOptions) {
    const resolved = (this.#options = resolveOptions(options));
    this[SUBMIT_CONTEXT] = resolved.submitContext;
    const deadline =
      resolved.deadline === undefined
        ? null
        : new DeadlineWatch(resolved.deadline, resolved.safetyMarginMs, (reason) => this.#expire(reason, true));
    const scheduler = (this.#scheduler = new Scheduler({
      maxWorkers: resolved.maxWorkers,
      abortGraceMs: resolved.abortGraceMs,
      adaptive: resolved.adaptive,
      // Read at each call, so a test can replace Math.random with a seeded generator.
      random: () => Math.random(),
      usageOf: resolved.usageOf,
      deadline,
      events: this.#events,
      record: (job, result) => this.#record(job, result),
      idle: () => this.#onIdle(),
      empty: () => resolveAll(this.#emptyWaiters.splice(0), undefined),
    }));
    scheduler.admission = this.#admission(resolved, deadline, options);
    const { timeoutMs, totalTimeoutMs, retry } = resolved;
    const settings = { timeoutMs, totalTimeoutMs, retry, timeouts: scheduler.timeouts.listFor(timeoutMs, true) };
    this.#registry = new Registry(resolved.maxResults, settings, scheduler.timeouts, scheduler.hops);
    this.#home = new Gate(scheduler.hops);
  }

  /** The cheapest admission that does what the options ask; a coordinator's when there is one. */
  #admission(resolved: ResolvedOptions, deadline: DeadlineWatch | null, options: DispatcherOptions | undefined): Admission {
    const scheduler = this.#scheduler;
    const { pause, events } = scheduler;
    const { budget, rateLimit, coordinator } = resolved;
    const expire = (reason: string): void => this.#expire(reason, false);
    const expireAll = (reason: string): void => this.#expire(reason, true);
    const local =
      deadline === null && budget === undefined && rateLimit === undefined
        ? new OpenAdmission(pause)
        : new LocalAdmission(pause, deadline, budget, rateLimit, {
            expire,
            expireAll,
            poke: () => scheduler.refunded(),
            get pending() {
              return scheduler.queued + scheduler.waiting;
            },
          });
    if (coordinator === undefined) {
      return local;
    }
    const unstarted = (): Job[] => [...this.#registry.unfinished()].filter((job) => job.state !== RUNNING);
    return coordinator[ATTACH]({
      pause,
      deadline,
      local,
      rateLimit: options?.rateLimit,
      budget: options?.budget,
      maxWorkers: resolved.maxWorkers,
      events,
      get pending() {
        return scheduler.queued + scheduler.waiting;
      },
      expire,
      expireAll,
      fail: (error) => {
        for (const job of unstarted()) {
          scheduler.fail(job, error);
        }
      },
      poke: () => scheduler.poke(),
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
    return this.#scheduler.pause.active;
  }

  /** Stops starting tasks until `resume()`; running ones continue. */
  pause(): void {
    this.#scheduler.pause.pause();
  }

  /** Stops starting tasks for `ms` milliseconds, or leaves a longer pause in place. */
  pauseFor(ms: number): void {
    this.#scheduler.pause.pauseFor(checkNumber('ms', ms, 'a number ≥ 0', (n) => n >= 0));
  }

  /** Starts tasks again, ending any pause. */
  resume(): void {
    this.#scheduler.pause.resume();
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

  /** Finished results by task id; at most `maxResults`, oldest evicted first. */
  get results(): ReadonlyMap<string, DispatchResult> {
    return this.#registry.store;
  }

  /** Queues one task to run in the background and returns its id; its result is kept for `getResult`/`waitFor`. */
  submit<R>(task: ContextTaskInit<R>): string;
  submit<F extends TaskFunction>(task: Task<F> | TaskInit<F>): string;
  submit(task: TaskLike): string {
    if (this.#closed) {
      throw new ShutdownError();
    }
    const scheduler = this.#scheduler;
    const job = this.#registry.acceptOne(task, this[SUBMIT_CONTEXT] ? new Gate(scheduler.hops) : this.#home);
    scheduler.add(job);
    scheduler.poke();
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
      const batch = new DispatchBatch(inputs.length, resolve, onProgress);
      const jobs = this.#accept(inputs, new Gate(this.#scheduler.hops), batch);
      if (jobs.length === 0) {
        resolve(batch.results);
      } else if (signal !== undefined && batch.remaining > 0) {
        const unlink = this.#link(jobs, signal);
        batch.onEnd = chain(batch.onEnd, unlink);
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
    const batch = new StreamBatch(inputs.length);
    const jobs = this.#accept(inputs, new Gate(this.#scheduler.hops), batch);
    // Every task accounted for: the caller's signal is let go even if the stream is never read.
    const unlink = signal !== undefined && batch.remaining > 0 ? this.#link(jobs, signal) : undefined;
    batch.onEnd = chain(batch.onEnd, unlink);
    const close = (): void => {
      if (!batch.closed) {
        unlink?.();
        batch.close();
        this.#cancel(jobs, new DOMException('The stream was closed before the task finished', 'AbortError'));
      }
    };
    const stream: AsyncIterableIterator<StreamResult> = {
      next: () => batch.pull(),
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
    for (const job of this.#accept(checkTaskList(tasks), new Gate(this.#scheduler.hops), null)) {
      promises.set(job.id, this.#promiseOf(job));
    }
    // Background work too: one promise for the batch, which never rejects.
    this.#handOver(() => Promise.all(promises.values()));
    return promises;
  }

  /** The task's result once it has finished; `undefined` while it is pending or running, or for an unknown id. */
  getResult<R = unknown>(id: string): DispatchResult<R> | undefined {
    return this.#registry.store.get(id) as DispatchResult<R> | undefined;
  }

  /** Resolves with the task's result when it finishes; rejects with a `TaskIdError` for an id never seen or evicted. */
  waitFor<R = unknown>(id: string): Promise<DispatchResult<R>> {
    const job = this.#registry.find(id);
    if (job !== undefined) {
      return this.#promiseOf(job) as Promise<DispatchResult<R>>;
    }
    const result = this.#registry.store.get(id);
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
      this.#cancel(this.#registry.unfinished(), new DOMException('The dispatcher shut down', 'AbortError'));
    }
    return this.onIdle();
  }

  /** Resolves when nothing is queued, running or waiting to retry, and no slot is held (timed-out tasks inside their grace included). */
  onIdle(): Promise<void> {
    const scheduler = this.#scheduler;
    if (scheduler.queued + scheduler.running + scheduler.waiting === 0) {
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
    return this.#stats.snapshot(scheduler.queued + scheduler.waiting, scheduler.running, scheduler.limit, scheduler.outcomes.retries);
  }

  /** `await using dispatcher = new Dispatcher()` shuts it down, waiting for its tasks, at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown(true);
  }

  #accept(inputs: readonly unknown[], gate: Gate, batch: DispatchBatch | StreamBatch | null): Job[] {
    if (this.#closed) {
      throw new ShutdownError();
    }
    const jobs = this.#registry.accept(inputs, gate, batch);
    const scheduler = this.#scheduler;
    for (const job of jobs) {
      scheduler.add(job);
    }
    scheduler.poke();
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
    const jobs = [...this.#registry.unfinished()].filter((job) => running || job.state !== RUNNING);
    this.#cancel(jobs, new DOMException(error, running ? 'TimeoutError' : 'AbortError'));
  }

  #record(job: Job, result: DispatchResult): void {
    this.#registry.record(job, result);
    this.#stats.record(result, job.startedAt + result.durationMs);
    job.owner?.settle(job, result);
    const { waiters } = job;
    if (waiters !== null) {
      job.waiters = null;
      if (typeof waiters === 'function') {
        waiters(result);
      } else {
        resolveAll(waiters, result);
      }
    }
    if (this.#events.has('settle')) {
      this.#events.emit('settle', result, job);
    }
  }

  #promiseOf(job: Job): Promise<DispatchResult> {
    return new Promise((resolve) => {
      const { waiters } = job;
      job.waiters = waiters === null ? resolve : typeof waiters === 'function' ? [waiters, resolve] : (waiters.push(resolve), waiters);
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

/** Both callbacks, one after the other; either may be absent. */
function chain(first: (() => void) | null, second: (() => void) | undefined): (() => void) | null {
  if (first === null || second === undefined) {
    return first ?? second ?? null;
  }
  return () => {
    first();
    second();
  };
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
