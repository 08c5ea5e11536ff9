import { type Batch, chain } from './batch.js';
import { Gate, type Hops } from './core/gate.js';
import { Job, type JobOwner, type JobSettings, SETTLED } from './core/job.js';
import type { Timeouts } from './core/timeouts.js';
import { TaskIdError } from './errors.js';
import { resolveRetry } from './policies/retry.js';
import type { DispatchResult } from './result.js';
import { ResultStore } from './result-store.js';
import { checkTask, costOf, isTask, noArgs, track } from './task.js';
import type { TaskLike } from './types.js';

/** Asks for a gate of the job's own, made where the call is. */
const CAPTURE = Symbol('capture');

const repeated = (id: string, first: number, again: number): TaskIdError =>
  new TaskIdError(id, `is repeated in the batch (tasks[${first}] and tasks[${again}])`);

/**
 * The dispatcher's records of its tasks: jobs of `submit` and `dispatchNowait` by id, the live batches
 * of `dispatch` and `stream` calls (each holding its own ids), and the finished results. It turns task
 * inputs into jobs, and keeps ids unique among unfinished tasks.
 */
export class Registry {
  /** Unfinished jobs of `submit` and `dispatchNowait`, by id. */
  readonly #live = new Map<string, Job>();
  /** Batches with unfinished jobs. */
  readonly #batches = new Set<Batch>();
  readonly store: ResultStore;

  constructor(
    maxResults: number,
    /** What every job gets unless its task overrides it. */
    readonly settings: JobSettings,
    readonly timeouts: Timeouts,
    readonly hops: Hops,
  ) {
    this.store = new ResultStore(maxResults, (id) => this.find(id) !== undefined);

  }

  /** The unfinished job with this id, wherever it was accepted. */
  find(id: string): Job | undefined {
    const job = this.#live.size === 0 ? undefined : this.#live.get(id);
    if (job !== undefined || this.#batches.size === 0) {
      return job;
    }
    for (const batch of this.#batches) {
      const found = batch.live(id);
      if (found !== undefined) {
        return found;
      }
    }
    return undefined;
  }

  /** Every unfinished job. */
  *unfinished(): Generator<Job> {
    yield* this.#live.values();
    for (const batch of this.#batches) {
      for (const job of batch.ids.values()) {
        if (job.state !== SETTLED) {
          yield job;
        }
      }
    }
  }

  /**
   * Validates one submitted task and makes its job, to run in the dispatcher's async context, or in the
   * caller's when `capture` (a gate of its own, armed again only if the task may retry).
   */
  acceptOne(input: unknown, capture: boolean): Job {
    const job = this.#make(input, undefined, null, capture ? CAPTURE : null);
    this.#live.set(job.id, job);
    this.#enter(job);
    return job;
  }

  /** Validates one task read from an iterable into `batch`, at `index`, and makes its job. */
  acceptInto(input: unknown, index: number, gate: Gate, batch: Batch): Job {
    checkTask(input, index);
    // Before the check for unfinished tasks elsewhere, which would find the earlier one too.
    const earlier = batch.ids.get(input.id);
    if (earlier !== undefined) {
      throw repeated(input.id, earlier.index, index);
    }
    const job = this.#make(input, index, batch, gate);
    batch.ids.set(job.id, job);
    this.#register(batch);
    this.#enter(job);
    return job;
  }

  /** Validates the inputs and makes their jobs; all or nothing: one bad task and none is accepted. */
  accept(inputs: readonly unknown[], gate: Gate, batch: Batch | null): Job[] {
    if (batch !== null) {
      batch.gate = gate;
    }
    const jobs: Job[] = [];
    // A batch's ids stay in its map; a `dispatchNowait` call's need one only to catch repeats.
    const ids = batch?.ids ?? (inputs.length > 1 ? new Map<string, Job>() : undefined);
    try {
      for (let i = 0; i < inputs.length; i++) {
        const job = this.#make(inputs[i], i, batch, gate);
        // One map operation a task: a repeat leaves the size as it was.
        if (ids !== undefined && ids.size === ids.set(job.id, job).size) {
          throw repeated(job.id, jobs.findIndex((other) => other.id === job.id), i);
        }
        jobs.push(job);
      }
    } catch (error) {
      ids?.clear();
      throw error;
    }
    for (const job of jobs) {
      if (batch === null) {
        this.#live.set(job.id, job);
      }
      this.#enter(job);
    }
    if (batch !== null && jobs.length > 0) {
      this.#register(batch);
    }
    return jobs;
  }

  /** Checks a task and makes its job; its id must not be in use by an unfinished task. */
  #make(input: unknown, at: number | undefined, batch: Batch | null, gate: Gate | typeof CAPTURE | null): Job {
    checkTask(input, at);
    if (this.find(input.id) !== undefined) {
      throw new TaskIdError(input.id, 'is already pending or running');
    }
    return this.#jobOf(input, at, batch, gate, at ?? 0);
  }

  /** A job is accepted: its task says so, and a resubmitted id's old result is gone until the new one comes. */
  #enter(job: Job): void {
    const task = job.notes?.task;
    if (task !== undefined && task !== null) {
      track(task, 'pending');
    }
    this.store.forget(job.id);
  }

  /** A batch with unfinished jobs is searched by lookups until it ends. */
  #register(batch: Batch): void {
    if (!this.#batches.has(batch)) {
      this.#batches.add(batch);
      batch.onEnd = chain(batch.onEnd, () => this.#batches.delete(batch));
    }
  }

  /** A job's one result: its id is free again, and the result is kept for lookups. */
  record(job: Job, result: DispatchResult): void {
    if (job.owner === null) {
      this.#live.delete(job.id);
    }
    this.store.add(result);
    const task = job.notes?.task;
    if (task !== undefined && task !== null) {
      track(task, result);
    }
  }

  #jobOf(input: TaskLike, at: number | undefined, owner: JobOwner | null, gate: Gate | typeof CAPTURE | null, index: number): Job {
    const { timeoutMs, totalTimeoutMs, retry } = input;
    const shared = this.settings;
    // A task that overrides nothing shares the dispatcher's settings object.
    const settings: JobSettings =
      timeoutMs === undefined && totalTimeoutMs === undefined && retry === undefined
        ? shared
        : {
            timeoutMs: timeoutMs ?? shared.timeoutMs,
            totalTimeoutMs: totalTimeoutMs ?? shared.totalTimeoutMs,
            retry: retry === undefined ? shared.retry : resolveRetry(`${at === undefined ? 'task' : `tasks[${at}]`}.retry`, retry, shared.retry),
            timeouts: timeoutMs === undefined ? shared.timeouts : this.timeouts.listFor(timeoutMs),
          };
    const job = new Job(input.id, input.func, input.args ?? noArgs, input.priority ?? 0, input.key ?? '', costOf(input, at), settings, owner, index);
    if (isTask(input)) {
      job.note().task = input;
    }
    // A batch's jobs run in its gate; a job outside one in the call's gate, a gate of its own (a submit
    // that captures its caller's context, armed again only if it may retry), or the dispatcher's.
    if (owner === null && gate !== null) {
      job.note().gate = gate === CAPTURE ? new Gate(this.hops, settings.retry.retries > 0) : gate;
    }
    return job;
  }
}
