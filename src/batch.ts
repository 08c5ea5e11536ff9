import { type Job, type JobOwner, SETTLED } from './core/job.js';
import type { DispatchResult } from './result.js';

/** A batch's progress: `done` counts successes, `failed` every other outcome, `running` the attempts running now. */
export interface DispatchProgress {
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  readonly total: number;
}

/** A result as `stream()` yields it: the task's `DispatchResult` and its index in the input. */
export type StreamResult<R = unknown> = DispatchResult<R> & { readonly index: number };

/**
 * The jobs of one `dispatch` or `stream` call. Their ids sit in the batch's own map, made as the batch is
 * accepted (a repeat within it is caught there) and dropped with it, rather than in the dispatcher's map
 * of live ids: lookups by id search the few live batches instead.
 */
export abstract class Batch implements JobOwner {
  running = 0;
  /** Jobs not yet settled. */
  remaining = 0;
  readonly ids = new Map<string, Job>();
  /** Called once every job has its result (the dispatcher forgets the batch). */
  onEnd: (() => void) | null = null;

  abstract settle(job: Job, result: DispatchResult): void;

  /** The job of this batch with `id`, while it is unsettled. */
  live(id: string): Job | undefined {
    const job = this.ids.get(id);
    return job !== undefined && job.state !== SETTLED ? job : undefined;
  }

  protected end(): void {
    this.onEnd?.();
    this.onEnd = null;
  }
}

/** A `dispatch` call: results in input order, progress after each. */
export class DispatchBatch extends Batch {
  readonly results: DispatchResult[];
  #succeeded = 0;

  constructor(
    readonly total: number,
    readonly resolve: (results: DispatchResult[]) => void,
    readonly onProgress: ((progress: DispatchProgress) => void) | undefined,
  ) {
    super();
    this.results = new Array<DispatchResult>(total);
    this.remaining = total;
  }

  settle(job: Job, result: DispatchResult): void {
    this.results[job.index] = result;
    this.remaining--;
    const { onProgress, total } = this;
    if (onProgress !== undefined) {
      this.#succeeded += result.success ? 1 : 0;
      const progress = { done: this.#succeeded, failed: total - this.remaining - this.#succeeded, running: this.running, total };
      try {
        onProgress(progress);
      } catch {
        // A progress callback's bug must not break the dispatch.
      }
    }
    if (this.remaining === 0) {
      this.end();
      this.resolve(this.results);
    }
  }
}

/**
 * A `stream()` call: results in completion order, each handed to the oldest pull waiting or kept until
 * pulled. Both queues are read from the front with a moving index, so a large batch costs O(1) a result.
 */
export class StreamBatch extends Batch {
  /** Results not yet pulled, from `#readAt`. */
  #ready: StreamResult[] = [];
  #readAt = 0;
  /** Pulls not yet answered; one of the two queues is always empty. */
  #pulls: ((step: IteratorResult<StreamResult, undefined>) => void)[] = [];
  #pullAt = 0;
  closed = false;

  constructor(total: number) {
    super();
    this.remaining = total;
  }

  settle(job: Job, result: DispatchResult): void {
    this.remaining--;
    const item = { ...result, index: job.index };
    if (!result.success) {
      // The spread leaves out the non-enumerable cause.
      Object.defineProperty(item, 'cause', { value: result.cause });
    }
    if (this.#pullAt < this.#pulls.length) {
      const pull = this.#pulls[this.#pullAt] as (step: IteratorResult<StreamResult, undefined>) => void;
      if (++this.#pullAt === this.#pulls.length) {
        this.#pulls.length = 0;
        this.#pullAt = 0;
      } else {
        this.#pulls[this.#pullAt - 1] = noPull;
      }
      pull({ done: false, value: item });
    } else if (!this.closed) {
      this.#ready.push(item);
    }
    if (this.remaining === 0) {
      this.end();
      this.#finish();
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
    if (this.closed || this.remaining === 0) {
      return Promise.resolve({ done: true, value: undefined });
    }
    // Pulls made before results arrive are answered in order.
    return new Promise((resolve) => this.#pulls.push(resolve));
  }

  /** Stops keeping results and answers every waiting pull with the end. */
  close(): void {
    this.closed = true;
    this.#ready = [];
    this.#readAt = 0;
    this.#finish();
  }

  #finish(): void {
    const pulls = this.#pulls;
    const at = this.#pullAt;
    this.#pulls = [];
    this.#pullAt = 0;
    for (let i = at; i < pulls.length; i++) {
      (pulls[i] as (step: IteratorResult<StreamResult, undefined>) => void)({ done: true, value: undefined });
    }
  }
}

const noPull = (): void => {};

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
