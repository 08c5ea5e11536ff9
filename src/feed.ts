import type { Batch, BatchSource } from './batch.js';

/** Tasks read ahead of the free slots, so a slot that frees finds the next task queued. */
const READ_AHEAD = 16;

/** What reading an iterable into a batch needs from the dispatcher. */
export interface FeedSite {
  /** Accepts one task read from the iterable, at its index; throws on an invalid task. */
  accept(input: unknown, index: number): void;
  /** How many tasks may run at once now: the window read ahead is that, plus `READ_AHEAD`. */
  readonly limit: number;
  /** Cancels the batch's unfinished tasks: the run ended early with `error`. */
  cancel(error: unknown): void;
}

/**
 * Reads a batch's tasks from any iterable or async iterable only as slots free: it keeps the batch's
 * unfinished tasks under the concurrency limit plus a small read-ahead, so a generator of a million
 * prompts runs in memory for a few dozen. One read is in flight at a time; `stop()` ends reading and
 * closes the iterator (its `return()`); an iterator that throws, or a task that is invalid, ends the
 * batch with that error after cancelling its unfinished tasks.
 */
export class Feed implements BatchSource {
  readonly #iterator: Iterator<unknown> | AsyncIterator<unknown>;
  readonly #async: boolean;
  #index = 0;
  #reading = false;
  #stopped = false;

  constructor(
    source: Iterable<unknown> | AsyncIterable<unknown>,
    readonly batch: Batch,
    readonly site: FeedSite,
  ) {
    const asyncIterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.#async = typeof asyncIterator === 'function';
    this.#iterator = this.#async
      ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (source as Iterable<unknown>)[Symbol.iterator]();
    batch.source = this;
    batch.complete = false;
  }

  /** Starts reading. */
  start(): void {
    this.#read();
  }

  settled(): void {
    this.#read();
  }

  stop(): void {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#close();
    }
  }

  #room(): boolean {
    return !this.#stopped && this.batch.remaining < Math.min(this.site.limit, 1024) + READ_AHEAD;
  }

  #read(): void {
    if (this.#reading || !this.#room()) {
      return;
    }
    this.#reading = true;
    if (this.#async) {
      void this.#readAsync();
      return;
    }
    try {
      while (this.#room()) {
        let step: IteratorResult<unknown>;
        try {
          step = (this.#iterator as Iterator<unknown>).next();
        } catch (error) {
          this.#fail(error, false);
          return;
        }
        if (this.#stopped) {
          // The read stopped the run itself (a generator that aborted its signal): what it brought is not
          // run, and the generator, which could not be closed while it ran, is closed now.
          this.#close();
          return;
        }
        if (!this.#take(step)) {
          return;
        }
      }
    } finally {
      this.#reading = false;
    }
  }

  async #readAsync(): Promise<void> {
    while (this.#room()) {
      let step: IteratorResult<unknown>;
      try {
        step = await (this.#iterator as AsyncIterator<unknown>).next();
      } catch (error) {
        this.#fail(error, false);
        break;
      }
      if (this.#stopped || !this.#take(step)) {
        // Stopped while the read was on its way: what it brought is not run.
        break;
      }
    }
    this.#reading = false;
  }

  /** Accepts what one read brought; false when reading is over. */
  #take(step: IteratorResult<unknown>): boolean {
    if (step.done === true) {
      this.#stopped = true;
      this.batch.exhausted();
      return false;
    }
    try {
      this.site.accept(step.value, this.#index++);
    } catch (error) {
      this.#fail(error, true);
      return false;
    }
    return true;
  }

  #fail(error: unknown, close: boolean): void {
    this.#stopped = true;
    if (close) {
      this.#close();
    }
    this.site.cancel(error);
    this.batch.fail(error);
  }

  /** Closes the iterator; a `return()` that throws or rejects is ignored. */
  #close(): void {
    try {
      const closing = this.#iterator.return?.();
      if (closing !== undefined && typeof (closing as PromiseLike<unknown>).then === 'function') {
        (closing as Promise<unknown>).then(undefined, () => undefined);
      }
    } catch {
      // The iterator's own bug: reading is over anyway.
    }
  }
}
