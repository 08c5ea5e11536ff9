/// <reference lib="esnext.disposable" preserve="true" />
// Declares Symbol.asyncDispose for users whose `lib` predates it, so the declarations compile for them too.
import { chain, DispatchBatch, type StreamResult, StreamBatch } from './batch.js';
import { checkTaskList, checkTaskSource, type DispatchOptions, readDispatchOptions, type StreamOptions, type TaskSource } from './call-options.js';
import type { Scheduler } from './core/scheduler.js';
import type { UnfinishedTask } from './admission/coordinator.js';
import { Engine } from './engine.js';
import { type EventName, type InternalListener, INSTRUMENT, type Listener, SUBMIT_CONTEXT } from './events.js';
import { type DispatcherOptions, resolveOptions } from './options.js';
import type { DispatchResult } from './result.js';
import type { DispatcherStats } from './stats.js';
import type { Task } from './task.js';
import type { CheckedTasks, ContextTaskInit, ResultOf, TaskFunction, TaskInit, TaskLike } from './types.js';
import { checkCount, checkNumber, checkType } from './validate.js';

export type { DispatchProgress, StreamResult } from './batch.js';
export type { DispatchOptions, StreamOptions } from './call-options.js';

/** The tasks an iterable or async iterable yields. */
export type ElementOf<I> = I extends Iterable<infer E> ? E : I extends AsyncIterable<infer E> ? E : never;

/** An iterable that is not an array: arrays take the overloads that check each task's `args` against its `func`. */
export type NotArray<I> = I extends readonly unknown[] ? never : I;

/** One result per task of a `dispatch` call, in input order, each typed from its task's `func`. */
export type DispatchResults<T extends readonly unknown[]> = { -readonly [K in keyof T]: DispatchResult<ResultOf<T[K]>> };

/**
 * Runs tasks at most `maxWorkers` at a time, highest priority first, each with a timeout that aborts
 * its signal, and records exactly one result per task.
 */
export class Dispatcher {
  readonly #engine: Engine;
  readonly #scheduler: Scheduler;
  /** Set by `duta/otel`: each submit captures its caller's async context, so spans nest under it. */
  [SUBMIT_CONTEXT]: boolean;

  constructor(options?: DispatcherOptions) {
    const resolved = resolveOptions(options);
    this[SUBMIT_CONTEXT] = resolved.submitContext;
    this.#engine = new Engine(resolved, options);
    this.#scheduler = this.#engine.scheduler;
  }

  /**
   * Most task functions running at once; raising it starts queued tasks at once. In adaptive mode it
   * is the adaptive `max`, and `currentLimit` moves below it.
   */
  get maxWorkers(): number {
    return this.#scheduler.cap.maxWorkers;
  }

  set maxWorkers(value: number) {
    this.#scheduler.cap.maxWorkers = checkCount('maxWorkers', value);
  }

  /** The concurrency limit in force: adaptive mode's current limit, else `maxWorkers`. */
  get currentLimit(): number {
    return this.#scheduler.cap.limit;
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
    return this.#engine.events.on(name, listener);
  }

  /** For `duta/otel`: like `on`, and the listener also hears the event's subject. Not for users. */
  [INSTRUMENT]<K extends EventName>(name: K, listener: InternalListener<K>): () => void {
    return this.#engine.events.listen(name, listener);
  }

  /** Slots held: running tasks, including timed-out or cancelled ones still inside their grace. */
  get activeCount(): number {
    return this.#scheduler.running;
  }

  /** Tasks accepted and not running: not started yet, or waiting to retry. */
  get pendingCount(): number {
    return this.#engine.pending;
  }

  /** Finished results by task id; at most `maxResults`, oldest evicted first. */
  get results(): ReadonlyMap<string, DispatchResult> {
    return this.#engine.registry.store;
  }

  /** Queues one task to run in the background and returns its id; its result is kept for `getResult`/`waitFor`. */
  submit<R>(task: ContextTaskInit<R>): string;
  submit<F extends TaskFunction>(task: Task<F> | TaskInit<F>): string;
  submit(task: TaskLike): string {
    const engine = this.#engine;
    const job = engine.submit(task, this[SUBMIT_CONTEXT]);
    engine.handOver(() => engine.promiseOf(job));
    return job.id;
  }

  /**
   * Runs all tasks and resolves with one result per task, in input order. Never rejects because a task
   * failed; rejects before running anything on invalid input or after `shutdown()`. An iterable or async
   * iterable is read as slots free; an invalid task in it, or an error it throws, ends the run with that
   * error (the tasks it started are cancelled).
   */
  dispatch<const T extends readonly ContextTaskInit[]>(tasks: T, options?: DispatchOptions): Promise<DispatchResults<T>>;
  dispatch<const T extends readonly TaskLike[]>(
    tasks: T & CheckedTasks<T>,
    options?: DispatchOptions,
  ): Promise<DispatchResults<T>>;
  dispatch<I extends Iterable<TaskLike> | AsyncIterable<TaskLike>>(tasks: NotArray<I>, options?: DispatchOptions): Promise<DispatchResult<ResultOf<ElementOf<I>>>[]>;
  dispatch(tasks: TaskSource<TaskLike>, options?: DispatchOptions): Promise<DispatchResult[]> {
    // Thrown validation errors inside the executor become the rejection, before any task is queued.
    return new Promise<DispatchResult[]>((resolve, reject) => {
      const { signal, onProgress } = readDispatchOptions(options, ['signal', 'onProgress']);
      const source = checkTaskSource(tasks);
      const engine = this.#engine;
      if (Array.isArray(source)) {
        const batch = new DispatchBatch(source.length, resolve, reject, onProgress);
        engine.accept(source, batch);
        if (batch.total === 0) {
          resolve(batch.results);
        } else if (signal !== undefined && batch.remaining > 0) {
          batch.onEnd = chain(batch.onEnd, engine.link(batch, signal));
        }
        return;
      }
      const batch = new DispatchBatch(0, resolve, reject, onProgress);
      if (signal !== undefined) {
        batch.onEnd = engine.link(batch, signal);
      }
      engine.feed(source as Iterable<unknown> | AsyncIterable<unknown>, batch);
    });
  }

  /**
   * Runs all tasks and yields each result as it finishes, with its input `index`. Tasks start at the
   * call; an iterable or async iterable is read as slots free. Leaving the loop early (`break`, `return`,
   * a throw) cancels the tasks not finished and reads no more: queued ones never start, running ones see
   * their signal abort. Throws at once on an invalid array; an invalid task in an iterable, or an error it
   * throws, is thrown by the loop after the results before it.
   */
  stream<const T extends readonly ContextTaskInit[]>(tasks: T, options?: StreamOptions): AsyncIterableIterator<StreamResult<ResultOf<T[number]>>>;
  stream<const T extends readonly TaskLike[]>(
    tasks: T & CheckedTasks<T>,
    options?: StreamOptions,
  ): AsyncIterableIterator<StreamResult<ResultOf<T[number]>>>;
  stream<I extends Iterable<TaskLike> | AsyncIterable<TaskLike>>(tasks: NotArray<I>, options?: StreamOptions): AsyncIterableIterator<StreamResult<ResultOf<ElementOf<I>>>>;
  stream(tasks: TaskSource<TaskLike>, options?: StreamOptions): AsyncIterableIterator<StreamResult> {
    const { signal } = readDispatchOptions(options, ['signal']);
    const source = checkTaskSource(tasks);
    const engine = this.#engine;
    const batch = new StreamBatch();
    let unlink: (() => void) | undefined;
    if (Array.isArray(source)) {
      engine.accept(source, batch);
      // Every task accounted for: the caller's signal is let go even if the stream is never read.
      unlink = signal !== undefined && batch.remaining > 0 ? engine.link(batch, signal) : undefined;
      batch.onEnd = chain(batch.onEnd, unlink);
    } else {
      unlink = signal === undefined ? undefined : engine.link(batch, signal);
      batch.onEnd = chain(batch.onEnd, unlink);
      engine.feed(source as Iterable<unknown> | AsyncIterable<unknown>, batch);
    }
    const close = (): void => {
      if (!batch.closed) {
        unlink?.();
        batch.close();
        batch.source?.stop();
        engine.cancel(batch.ids.values(), new DOMException('The stream was closed before the task finished', 'AbortError'));
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
    const engine = this.#engine;
    const promises = new Map<string, Promise<DispatchResult>>();
    for (const job of engine.accept(checkTaskList(tasks), null)) {
      promises.set(job.id, engine.promiseOf(job));
    }
    // Background work too: one promise for the batch, which never rejects.
    engine.handOver(() => Promise.all(promises.values()));
    return promises;
  }

  /** The task's result once it has finished; `undefined` while it is pending or running, or for an unknown id. */
  getResult<R = unknown>(id: string): DispatchResult<R> | undefined {
    return this.#engine.registry.store.get(id) as DispatchResult<R> | undefined;
  }

  /**
   * Resolves with the task's result when it finishes; rejects with a `TaskIdError` for an id never seen
   * or evicted. With a coordinator, a task submitted on any dispatcher of the fleet is waited for too,
   * wherever it runs, and one whose instance stopped ends as `'lost'`.
   */
  waitFor<R = unknown>(id: string): Promise<DispatchResult<R>> {
    return this.#engine.waitFor(id) as Promise<DispatchResult<R>>;
  }

  /**
   * Where a task is: its result once it has finished, `{ taskId, status: 'pending' | 'running' }` before,
   * or undefined for an id this dispatcher does not know. With a coordinator, tasks submitted on any
   * dispatcher of the fleet are found too (`'lost'` when their instance stopped before they ended);
   * without one, this dispatcher's own.
   */
  async lookup<R = unknown>(id: string): Promise<DispatchResult<R> | UnfinishedTask | undefined> {
    return (await this.#engine.lookup(checkType('id', id, 'string'))) as DispatchResult<R> | UnfinishedTask | undefined;
  }

  /**
   * With a coordinator: resolves once every task accepted so far by `submit` and `dispatchNowait` is
   * visible to every dispatcher of the fleet, and the fleet slots of attempts that ended are given back,
   * and rejects when the coordinator cannot be reached within its time limit. Without one, resolves at once.
   */
  flush(): Promise<void> {
    return this.#engine.scheduler.admission.records?.flush() ?? Promise.resolve();
  }

  /**
   * Cancels one unfinished task: at once if it is queued or waiting to retry, by aborting its signal if it
   * is running (its slot held until the function stops, as for any abort). Its result is `cancelled`,
   * saying `reason`. Returns whether there was such a task.
   */
  cancel(id: string, reason?: unknown): boolean {
    checkType('id', id, 'string');
    return this.#engine.cancelOne(id, reason === undefined ? new DOMException('The task was cancelled', 'AbortError') : reason);
  }

  /** Cancels every task queued or waiting to retry, leaving running ones alone; the dispatcher stays open. Returns how many. */
  clear(): number {
    return this.#engine.clear();
  }

  /** Resolves when fewer than `n` tasks are queued or waiting to retry: backpressure for a producer. */
  onSizeLessThan(n: number): Promise<void> {
    try {
      checkNumber('n', n, 'a number > 0', (value) => value > 0);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#engine.sizeLessThan(n);
  }

  /**
   * Stops accepting work. `wait = true` lets everything queued and running finish; `wait = false`
   * cancels queued tasks and aborts running ones. Resolves when no task holds a slot and, with a
   * coordinator, once what is still owed to it (fleet slots given back, records) is sent, or could not be
   * within its time limit: close the Redis client after it. Idempotent; `shutdown(false)` after
   * `shutdown(true)` cancels what is left.
   */
  shutdown(wait = true): Promise<void> {
    try {
      checkType('wait', wait, 'boolean');
    } catch (error) {
      return Promise.reject(error);
    }
    const engine = this.#engine;
    engine.closed = true;
    if (!wait) {
      // First, so that cancelling a batch's tasks does not make room to read more of its iterable.
      engine.stopFeeds();
      engine.cancel(engine.registry.unfinished(), new DOMException('The dispatcher shut down', 'AbortError'));
    }
    const records = engine.scheduler.admission.records;
    // Releases and records are sent a microtask after the attempts end: a client closed right after the
    // last result would drop them, and the fleet would wait `leaseMs` for those slots.
    return records === undefined ? engine.idle() : engine.idle().then(() => records.flush().catch(() => undefined));
  }

  /** Resolves when nothing is queued, running or waiting to retry, and no slot is held (timed-out tasks inside their grace included). */
  onIdle(): Promise<void> {
    return this.#engine.idle();
  }

  /** Resolves when nothing is queued or waiting to retry; tasks may still be running. */
  onEmpty(): Promise<void> {
    return this.#engine.empty();
  }

  /** Counts, the limit in force, throughput and duration percentiles over the last 1024 tasks. */
  stats(): DispatcherStats {
    const scheduler = this.#scheduler;
    return this.#engine.stats.snapshot(scheduler.queued + scheduler.waiting, scheduler.running, scheduler.cap.limit, scheduler.outcomes.retries);
  }

  /** `await using dispatcher = new Dispatcher()` shuts it down, waiting for its tasks, at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown(true);
  }
}
