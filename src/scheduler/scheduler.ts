import pLimit, { type LimitFunction } from 'p-limit';
import { type Job, QUEUED } from './job.js';
import { PriorityQueue } from './priority-queue.js';

export interface SchedulerHooks {
  /** Runs one job; resolves (never rejects) when its slot may be reused. */
  run(job: Job): Promise<void>;
  /** Nothing queued and no slot held. */
  idle(): void;
}

/**
 * The core: p-limit grants at most `concurrency` slots, and each granted slot is a worker that runs
 * queued jobs back to back, taking the highest-priority one at each start, and gives its slot back
 * only when nothing is left to start. Queued jobs therefore cost one entry in our own priority queue,
 * not a closure and a promise in p-limit's FIFO, and p-limit stays the one gate on concurrency.
 */
export class Scheduler {
  readonly #limit: LimitFunction;
  readonly #queue = new PriorityQueue<Job>();
  readonly #hooks: SchedulerHooks;
  /** Jobs queued and not cancelled. The queue may also hold cancelled ones (tombstones), skipped when reached. */
  #queued = 0;
  /** Slots held by a job: running, or timed out and still inside its grace. */
  #running = 0;
  /** Workers asked of p-limit, started or still waiting for a slot. */
  #workers = 0;
  /** Workers p-limit has started. */
  #started = 0;

  constructor(concurrency: number, hooks: SchedulerHooks) {
    this.#limit = pLimit(concurrency);
    this.#hooks = hooks;
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
      if (this.#running === 0) {
        this.#hooks.idle();
      }
    }
  }

  #pump(): void {
    const limit = this.#limit.concurrency;
    // One waiting worker per queued job at most: a worker that finds nothing to start leaves at once.
    while (this.#workers < limit && this.#workers - this.#running < this.#queued) {
      this.#workers++;
      void this.#limit(this.#work);
    }
  }

  #next(): Job | undefined {
    for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
      if (job.state === QUEUED) {
        this.#queued--;
        return job;
      }
    }
    return undefined;
  }

  readonly #work = async (): Promise<void> => {
    this.#started++;
    // A lowered concurrency takes effect as workers finish a job: surplus ones leave instead of continuing.
    while (this.#started <= this.#limit.concurrency) {
      const job = this.#next();
      if (job === undefined) {
        break;
      }
      this.#running++;
      await this.#hooks.run(job);
      this.#running--;
      if (this.#queued === 0 && this.#running === 0) {
        this.#hooks.idle();
      }
    }
    this.#started--;
    this.#workers--;
    // A job queued while this worker was leaving may need a worker it could not see as free.
    this.#pump();
  };
}
