import { chooseAdmission } from './admission/choose.js';
import { DeadlineWatch } from './admission/deadline.js';
import { type Batch, chain, resolveAll } from './batch.js';
import { Gate } from './core/gate.js';
import { type Job, QUEUED, RUNNING, SETTLED, WAITING } from './core/job.js';
import { Scheduler } from './core/scheduler.js';
import { ShutdownError, TaskIdError } from './errors.js';
import type { UnfinishedTask } from './admission/records.js';
import { Emitter } from './events.js';
import { Feed } from './feed.js';
import type { DispatcherOptions, ResolvedOptions } from './options.js';
import { Registry } from './registry.js';
import { type DispatchResult, messageOf } from './result.js';
import { Stats } from './stats.js';
import type { TaskLike } from './types.js';

/**
 * A dispatcher's machinery behind its public methods: it accepts tasks into jobs and queues them,
 * cancels and expires them, and hands each job's one result to everyone waiting for it.
 */
export class Engine {
  readonly scheduler: Scheduler;
  readonly registry: Registry;
  readonly events = new Emitter();
  readonly stats = new Stats();
  closed = false;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #emptyWaiters: (() => void)[] = [];
  readonly #sizeWaiters: { n: number; resolve: () => void }[] = [];
  /** Batches still reading an iterable: `shutdown(false)` stops them. */
  readonly #feeding = new Set<Batch>();

  constructor(
    readonly options: ResolvedOptions,
    raw: DispatcherOptions | undefined,
  ) {
    const deadline =
      options.deadline === undefined ? null : new DeadlineWatch(options.deadline, options.safetyMarginMs, (reason) => this.expire(reason, true));
    const scheduler = (this.scheduler = new Scheduler({
      maxWorkers: options.maxWorkers,
      abortGraceMs: options.abortGraceMs,
      adaptive: options.adaptive,
      // Read at each call, so a test can replace Math.random with a seeded generator.
      random: () => Math.random(),
      usageOf: options.usageOf,
      deadline,
      events: this.events,
      record: (job, result) => this.#record(job, result),
      idle: () => {
        this.events.emit('idle', undefined);
        resolveAll(this.#idleWaiters.splice(0), undefined);
      },
      empty: () => resolveAll(this.#emptyWaiters.splice(0), undefined),
    }));
    scheduler.admission = chooseAdmission(options, deadline, raw, {
      scheduler,
      expire: (reason, running, keep) => this.expire(reason, running, keep),
      unstarted: () => [...this.registry.unfinished()].filter((job) => job.state !== RUNNING),
    });
    const { timeoutMs, totalTimeoutMs, retry } = options;
    const settings = { timeoutMs, totalTimeoutMs, retry, timeouts: scheduler.timeouts.listFor(timeoutMs, true) };
    this.registry = new Registry(options.maxResults, settings, scheduler.timeouts, scheduler.hops);
  }

  /** Tasks accepted and not running: not started yet, or waiting to retry. */
  get pending(): number {
    return this.scheduler.queued + this.scheduler.waiting;
  }

  /** Accepts one submitted task and queues it. */
  submit(input: TaskLike, capture: boolean): Job {
    this.#open();
    const job = this.registry.acceptOne(input, capture);
    this.scheduler.admission.records?.accepted(job);
    this.scheduler.add(job);
    this.scheduler.poke();
    this.#watch(job, input.signal);
    return job;
  }

  /** Accepts an array of tasks, all or nothing, and queues their jobs, to run in the caller's async context. */
  accept(inputs: readonly unknown[], batch: Batch | null): Job[] {
    this.#open();
    const jobs = this.registry.accept(inputs, new Gate(this.scheduler.hops), batch);
    if (batch !== null) {
      batch.total += jobs.length;
      batch.remaining += jobs.length;
    }
    const { scheduler } = this;
    // Tasks of `dispatchNowait` are recorded fleet-wide, as submitted ones are; a batch's come back to its caller.
    const records = batch === null ? scheduler.admission.records : undefined;
    for (const job of jobs) {
      records?.accepted(job);
      scheduler.add(job);
    }
    scheduler.poke();
    for (const [i, job] of jobs.entries()) {
      this.#watch(job, (inputs[i] as TaskLike).signal);
    }
    return jobs;
  }

  /** Reads the batch's tasks from an iterable as slots free, to run in the caller's async context. */
  feed(source: Iterable<unknown> | AsyncIterable<unknown>, batch: Batch): void {
    this.#open();
    const gate = (batch.gate = new Gate(this.scheduler.hops));
    const { scheduler, registry } = this;
    this.#feeding.add(batch);
    batch.onEnd = chain(batch.onEnd, () => this.#feeding.delete(batch));
    new Feed(source, batch, {
      accept: (input, index) => {
        const job = registry.acceptInto(input, index, gate, batch);
        batch.total++;
        batch.remaining++;
        scheduler.add(job);
        scheduler.poke();
        this.#watch(job, (input as TaskLike).signal);
      },
      get limit() {
        return scheduler.cap.limit;
      },
      cancel: (error) => this.cancel(batch.ids.values(), error),
    }).start();
  }

  /** Reads no more of any iterable, closing each: what was read still ends in results. */
  stopFeeds(): void {
    for (const batch of this.#feeding) {
      batch.source?.stop();
      batch.exhausted();
    }
  }

  /** Cancels the task when `signal` aborts, at once if it already has; the listener goes when the task ends. */
  #watch(job: Job, signal: AbortSignal | undefined): void {
    if (signal === undefined || job.state === SETTLED) {
      return;
    }
    const cancel = (): void => this.cancel([job], signal.reason);
    if (signal.aborted) {
      cancel();
      return;
    }
    signal.addEventListener('abort', cancel, { once: true });
    job.note().unlink = () => signal.removeEventListener?.('abort', cancel);
  }

  /** Cancels the task with this id, if it is unfinished; says whether it was. */
  cancelOne(id: string, reason: unknown): boolean {
    const job = this.registry.find(id);
    if (job === undefined) {
      return false;
    }
    this.cancel([job], reason);
    return true;
  }

  /** Cancels every task queued or waiting to retry; running ones go on. Returns how many were cancelled. */
  clear(): number {
    const jobs = [...this.registry.unfinished()].filter((job) => job.state === QUEUED || job.state === WAITING);
    this.cancel(jobs, new DOMException('The queue was cleared', 'AbortError'));
    return jobs.length;
  }

  /** Resolves when fewer than `n` tasks are queued or waiting to retry. */
  sizeLessThan(n: number): Promise<void> {
    if (this.pending < n) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#sizeWaiters.push({ n, resolve });
      this.scheduler.onShrink = this.#shrunk;
    });
  }

  /** The queue shrank: resolves the size waiters it now satisfies. */
  readonly #shrunk = (): void => {
    const pending = this.pending;
    const waiters = this.#sizeWaiters;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i] as { n: number; resolve: () => void };
      if (pending < waiter.n) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
    if (waiters.length === 0) {
      this.scheduler.onShrink = null;
    }
  };

  #open(): void {
    if (this.closed) {
      throw new ShutdownError();
    }
  }

  /** Cancels the batch's unfinished jobs when `signal` aborts, and reads no more of its iterable; returns the unlink function. */
  link(batch: Batch, signal: AbortSignal): () => void {
    const cancel = (): void => {
      if (batch.source !== null) {
        batch.source.stop();
        batch.exhausted();
      }
      this.cancel(batch.ids.values(), signal.reason);
    };
    if (signal.aborted) {
      cancel();
    } else {
      signal.addEventListener('abort', cancel, { once: true });
    }
    // Optional: a duck-typed signal need only have addEventListener.
    return () => signal.removeEventListener?.('abort', cancel);
  }

  /** Ends unfinished jobs as `cancelled`: queued ones without starting, running ones by aborting their signal. */
  cancel(jobs: Iterable<Job>, reason: unknown): void {
    for (const job of [...jobs]) {
      this.scheduler.cancel(job, reason, `task ${JSON.stringify(job.id)} was cancelled: ${messageOf(reason, job.id)}`);
    }
  }

  /** Ends unfinished jobs at the budget's end (queued and waiting ones) or the deadline (running ones too); not those `keep` keeps. */
  expire(error: string, running: boolean, keep?: (job: Job) => boolean): void {
    const jobs = [...this.registry.unfinished()].filter((job) => (running || job.state !== RUNNING) && keep?.(job) !== true);
    this.cancel(jobs, new DOMException(error, running ? 'TimeoutError' : 'AbortError'));
  }

  /** The task's result when it ends, here or, with a coordinator that keeps records, anywhere in the fleet. */
  waitFor(id: string): Promise<DispatchResult> {
    const job = this.registry.find(id);
    if (job !== undefined) {
      return this.promiseOf(job);
    }
    const result = this.registry.store.get(id);
    if (result !== undefined) {
      return Promise.resolve(result);
    }
    const unknown = (): Promise<never> => Promise.reject(new TaskIdError(String(id), 'is unknown or evicted'));
    const records = this.scheduler.admission.records;
    if (records === undefined || typeof id !== 'string') {
      return unknown();
    }
    return records.waitFor(id).then((found) => found ?? unknown());
  }

  /** Where the task is: unfinished here, finished here, or as the fleet's records say. */
  async lookup(id: string): Promise<DispatchResult | UnfinishedTask | undefined> {
    const job = this.registry.find(id);
    if (job !== undefined) {
      return { taskId: id, status: job.state === RUNNING ? 'running' : 'pending' };
    }
    return this.registry.store.get(id) ?? (await this.scheduler.admission.records?.lookup(id));
  }

  /** A promise of the job's result. */
  promiseOf(job: Job): Promise<DispatchResult> {
    return new Promise((resolve) => {
      const { waiters } = job;
      job.waiters = waiters === null ? resolve : typeof waiters === 'function' ? [waiters, resolve] : (waiters.push(resolve), waiters);
    });
  }

  /** Resolves when nothing is queued, running or waiting to retry, and no slot is held. */
  idle(): Promise<void> {
    const { scheduler } = this;
    if (scheduler.queued + scheduler.running + scheduler.waiting === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Resolves when nothing is queued or waiting to retry. */
  empty(): Promise<void> {
    if (this.pending === 0) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  /**
   * Gives background work to the platform's `waitUntil`, so the function is kept alive until it ends.
   * The promise is made only then: without `waitUntil`, a submit costs none.
   */
  handOver(work: () => Promise<unknown>): void {
    const { waitUntil } = this.options;
    if (waitUntil !== undefined) {
      try {
        waitUntil(work());
      } catch {
        // A platform hook that throws must not lose the work: it is queued already.
      }
    }
  }

  #record(job: Job, result: DispatchResult): void {
    job.notes?.unlink?.();
    this.registry.record(job, result);
    if (job.owner === null) {
      this.scheduler.admission.records?.finished(job, result);
    }
    this.stats.record(result, (job.startedAt ?? 0) + result.durationMs);
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
    if (this.events.settles) {
      this.events.emit('settle', result, job);
    }
  }
}
