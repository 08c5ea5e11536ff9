import type { Gate } from './core/gate.js';
import { type Job, type JobOwner, SETTLED } from './core/job.js';
import { type DispatchResult, withIndex } from './result.js';

/** A batch's progress: `done` counts successes, `failed` every other outcome, `running` the attempts running now. */
export interface DispatchProgress {
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  /** Tasks in the batch: for an iterable input, those read from it so far. */
  readonly total: number;
}

/** A result as `stream()` yields it: the task's `DispatchResult` and its index in the input. */
export type StreamResult<R = unknown> = DispatchResult<R> & { readonly index: number };

/** What feeds a batch read lazily from an iterable: told when a task of the batch settles, so it may read more. */
export interface BatchSource {
  /** A task settled: room for more. */
  settled(): void;
  /** The batch is over early (cancelled, closed): stop reading and close the iterator. */
  stop(): void;
}

/**
 * The jobs of one `dispatch` or `stream` call. Their ids sit in the batch's own map, made as the batch is
 * accepted (a repeat within it is caught there) and dropped with it, rather than in the dispatcher's map
 * of live ids: lookups by id search the few live batches instead. A batch read from an iterable also
 * drops each id as its task settles, so it holds only the unfinished ones.
 */
export abstract class Batch implements JobOwner {
  running = 0;
  /** The gate of the call's async context, set as the batch is accepted. */
  gate!: Gate;
  /** Jobs accepted and not yet settled. */
  remaining = 0;
  /** Tasks accepted so far. */
  total = 0;
  readonly ids = new Map<string, Job>();
  /** Whether every task is in (an array's are at once; an iterable's once it is exhausted). */
  complete = true;
  /** The iterable's reader, for a batch read lazily. */
  source: BatchSource | null = null;
  /** Called once every job has its result (the dispatcher forgets the batch). */
  onEnd: (() => void) | null = null;
  /** Why the batch ended early, if the iterable threw or gave an invalid task. */
  error: unknown = undefined;
  failed = false;

  /** The job of this batch with `id`, while it is unsettled. */
  live(id: string): Job | undefined {
    const job = this.ids.get(id);
    return job !== undefined && job.state !== SETTLED ? job : undefined;
  }

  settle(job: Job, result: DispatchResult): void {
    this.remaining--;
    if (this.source !== null) {
      this.ids.delete(job.id);
    }
    this.deliver(job, result);
    if (this.remaining === 0 && this.complete) {
      this.finish();
    } else {
      this.source?.settled();
    }
  }

  /** The iterable is exhausted: the batch ends when its last task does. */
  exhausted(): void {
    this.complete = true;
    if (this.remaining === 0) {
      this.finish();
    }
  }

  /** The iterable threw, or gave an invalid task: the batch ends with `error` (its unfinished tasks are cancelled by the caller). */
  fail(error: unknown): void {
    if (!this.failed) {
      this.failed = true;
      this.error = error;
      this.complete = true;
      this.finish();
    }
  }

  protected abstract deliver(job: Job, result: DispatchResult): void;

  /** Every result is in, or the batch failed. */
  protected finish(): void {
    this.onEnd?.();
    this.onEnd = null;
  }
}

/** A `dispatch` call: results in input order, progress after each. */
export class DispatchBatch extends Batch {
  readonly results: DispatchResult[];
  #succeeded = 0;
  #settled = false;

  constructor(
    total: number,
    readonly resolve: (results: DispatchResult[]) => void,
    readonly reject: (error: unknown) => void,
    readonly onProgress: ((progress: DispatchProgress) => void) | undefined,
  ) {
    super();
    this.results = new Array<DispatchResult>(total);
  }

  protected deliver(job: Job, result: DispatchResult): void {
    this.results[job.index] = result;
    const { onProgress } = this;
    if (onProgress !== undefined) {
      this.#succeeded += result.success ? 1 : 0;
      const settled = this.total - this.remaining;
      const progress = { done: this.#succeeded, failed: settled - this.#succeeded, running: this.running, total: this.total };
      try {
        onProgress(progress);
      } catch {
        // A progress callback's bug must not break the dispatch.
      }
    }
  }

  protected override finish(): void {
    super.finish();
    if (!this.#settled) {
      this.#settled = true;
      if (this.failed) {
        this.reject(this.error);
      } else {
        this.resolve(this.results);
      }
    }
  }
}

type Pull = (step: IteratorResult<StreamResult, undefined>) => void;

/**
 * A `stream()` call: results in completion order, each handed to the oldest pull waiting or kept until
 * pulled. Both queues are read from the front with a moving index, so a large batch costs O(1) a result.
 */
export class StreamBatch extends Batch {
  /** Results not yet pulled, from `#readAt`. */
  #ready: StreamResult[] = [];
  #readAt = 0;
  /** Pulls not yet answered, with their rejections; one of the two queues is always empty. */
  #pulls: [Pull, (error: unknown) => void][] = [];
  #pullAt = 0;
  closed = false;
  /** Whether the error of a failed batch has been thrown to the reader yet. */
  #thrown = false;

  protected deliver(job: Job, result: DispatchResult): void {
    const item = withIndex(result, job.index);
    if (this.#pullAt < this.#pulls.length) {
      const [pull] = this.#pulls[this.#pullAt] as [Pull, unknown];
      if (++this.#pullAt === this.#pulls.length) {
        this.#pulls.length = 0;
        this.#pullAt = 0;
      }
      pull({ done: false, value: item });
    } else if (!this.closed) {
      this.#ready.push(item);
    }
  }

  /** The next result: at once if one is waiting, else when one comes; done once all are out or the stream closed. */
  pull(): Promise<IteratorResult<StreamResult, undefined>> {
    if (this.#readAt < this.#ready.length) {
      const value = this.#ready[this.#readAt] as StreamResult;
      this.#ready[this.#readAt++] = undefined as unknown as StreamResult;
      if (this.#readAt === this.#ready.length) {
        this.#ready.length = 0;
        this.#readAt = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failed && !this.#thrown && !this.closed) {
      this.#thrown = true;
      return Promise.reject(this.error);
    }
    if (this.closed || (this.remaining === 0 && this.complete)) {
      return Promise.resolve({ done: true, value: undefined });
    }
    // Pulls made before results arrive are answered in order.
    return new Promise((resolve, reject) => this.#pulls.push([resolve, reject]));
  }

  /** Stops keeping results and answers every waiting pull with the end. */
  close(): void {
    this.closed = true;
    this.#ready = [];
    this.#readAt = 0;
    this.#answer();
  }

  protected override finish(): void {
    super.finish();
    this.#answer();
  }

  /** Answers the pulls still waiting: with the error of a failed batch (the first of them), else with the end. */
  #answer(): void {
    const pulls = this.#pulls;
    const at = this.#pullAt;
    this.#pulls = [];
    this.#pullAt = 0;
    for (let i = at; i < pulls.length; i++) {
      const [pull, reject] = pulls[i] as [Pull, (error: unknown) => void];
      if (this.failed && !this.#thrown && !this.closed) {
        this.#thrown = true;
        reject(this.error);
      } else {
        pull({ done: true, value: undefined });
      }
    }
  }
}

/** Resolves every waiter with `value`. */
export function resolveAll<T>(waiters: readonly ((value: T) => void)[], value: T): void {
  for (const resolve of waiters) {
    resolve(value);
  }
}

/** Both callbacks, one after the other; either may be absent. */
export function chain(first: (() => void) | null, second: (() => void) | undefined): (() => void) | null {
  if (first === null || second === undefined) {
    return first ?? second ?? null;
  }
  return () => {
    first();
    second();
  };
}
