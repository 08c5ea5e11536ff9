import pLimit, { type LimitFunction } from 'p-limit';
import type { DispatchResult } from '../result.js';
import { type Job, QUEUED } from './job.js';
import { PriorityQueue } from './priority-queue.js';
import { Slot } from './slot.js';

export interface SchedulerHooks {
  /** Records a job's one result; the job's state is `SETTLED` afterwards. */
  record(job: Job, result: DispatchResult): void;
  /** Nothing queued and no slot held. */
  idle(): void;
}

/**
 * The core: p-limit grants at most `concurrency` slots, and each granted slot runs queued jobs back
 * to back, taking the highest-priority one at each start, and gives its slot back only when nothing
 * is left to start. Queued jobs therefore cost one entry in our own priority queue, not a closure and
 * a promise in p-limit's FIFO, and p-limit stays the one gate on concurrency.
 */
export class Scheduler {
  readonly #limit: LimitFunction;
  readonly #queue = new PriorityQueue<Job>();
  /** Jobs queued and not cancelled. The queue may also hold cancelled ones (tombstones), skipped when reached. */
  #queued = 0;
  /** Slots held by a job: running, or timed out and still inside its grace. */
  #running = 0;
  /** Slots asked of p-limit, granted or still waiting. */
  #asked = 0;
  /** Slots p-limit has granted. */
  #granted = 0;

  constructor(
    concurrency: number,
    readonly abortGraceMs: number,
    readonly hooks: SchedulerHooks,
  ) {
    this.#limit = pLimit(concurrency);
  }

  get concurrency(): number {
    return this.#limit.concurrency;
  }

  set concurrency(value: number) {
    this.#limit.concurrency = value;
    this.#pump();
  }

  get queued(): number {
    return this.#queued;
  }

  get running(): number {
    return this.#running;
  }

  enqueue(job: Job): void {
    this.#queue.push(job);
    this.#queued++;
    this.#pump();
  }

  /** A queued job was cancelled: it stays in the queue as a tombstone until reached or cleared. */
  withdraw(): void {
    this.#queued--;
    if (this.#queued === 0) {
      this.#queue.clear();
      this.#checkIdle();
    }
  }

  /**
   * The next job for a granted slot to start, or undefined when the slot should leave: nothing is
   * queued, or the concurrency was lowered and this slot is surplus.
   */
  take(): Job | undefined {
    if (this.#granted > this.#limit.concurrency) {
      return undefined;
    }
    for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
      if (job.state === QUEUED) {
        this.#queued--;
        this.#running++;
        return job;
      }
    }
    return undefined;
  }

  /** A slot's job no longer holds it: settled, or abandoned after its grace. */
  finished(): void {
    this.#running--;
    this.#checkIdle();
  }

  /** A slot found nothing to start and goes back to p-limit. */
  leave(): void {
    this.#granted--;
    this.#asked--;
    // A job queued while this slot was leaving may need a slot it could not see as free.
    this.#pump();
  }

  #checkIdle(): void {
    if (this.#queued === 0 && this.#running === 0) {
      this.hooks.idle();
    }
  }

  #pump(): void {
    const limit = this.#limit.concurrency;
    // One waiting slot per queued job at most: a slot that finds nothing to start leaves at once.
    while (this.#asked < limit && this.#asked - this.#running < this.#queued) {
      this.#asked++;
      void this.#limit(this.#grant);
    }
  }

  readonly #grant = (): Promise<void> =>
    new Promise((release) => {
      this.#granted++;
      new Slot(this, release).next();
    });
}
