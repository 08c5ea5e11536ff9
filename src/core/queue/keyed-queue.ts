import { type Job, QUEUED } from '../job.js';
import { PriorityQueue } from './priority-queue.js';

/**
 * Queued jobs by key, served in fair turns: each start moves on to the next key with queued work,
 * whatever the keys' limits or queue lengths, and within a key the highest priority goes first. Tasks
 * without a key share the key ''. Cancelled jobs stay queued as tombstones and are dropped when reached.
 */
export class KeyedQueue {
  readonly #queues = new Map<string, PriorityQueue<Job>>();
  /** The keys of `#queues`, in turn order. */
  #ring: string[] = [];
  /** Where the next turn starts in `#ring`. */
  #cursor = 0;

  push(job: Job): void {
    this.#queueOf(job.key).push(job);
  }

  /** Puts back a job that was queued before (a retry), ahead of the newer ones of its key and priority. */
  unshift(job: Job): void {
    this.#queueOf(job.key).unshift(job);
  }

  clear(): void {
    this.#queues.clear();
    this.#ring = [];
    this.#cursor = 0;
  }

  /**
   * Takes the next job, by turns, whose `check(job)` is 0 (every job, without `check`). A positive
   * check skips that key's turn; a negative one ends the search: that key keeps its turn and nobody
   * starts. When none can start, returns the shortest wait in milliseconds: `Infinity` when nothing
   * is queued.
   */
  take(check?: (job: Job) => number): Job | number {
    const ring = this.#ring;
    let shortest = Infinity;
    let emptied = false;
    for (let n = 0; n < ring.length; n++) {
      const i = (this.#cursor + n) % ring.length;
      const key = ring[i] as string;
      const queue = this.#queues.get(key) as PriorityQueue<Job>;
      let job = queue.peek();
      while (job !== undefined && job.state !== QUEUED) {
        queue.shift();
        job = queue.peek();
      }
      if (job === undefined) {
        this.#queues.delete(key);
        emptied = true;
        continue;
      }
      const ms = check === undefined ? 0 : check(job);
      if (ms === 0) {
        queue.shift();
        this.#cursor = i + 1;
        if (emptied) {
          this.#prune();
        }
        return job;
      }
      if (ms < 0) {
        // The key whose turn it is waits for shared buckets: its turn is kept for it.
        this.#cursor = i;
        shortest = Math.min(shortest, -ms);
        break;
      }
      shortest = Math.min(shortest, ms);
    }
    if (emptied) {
      this.#prune();
    }
    return shortest;
  }

  /** Every queued job (tombstones left out), emptying the queue. */
  drain(): Job[] {
    const jobs: Job[] = [];
    for (const queue of this.#queues.values()) {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        if (job.state === QUEUED) {
          jobs.push(job);
        }
      }
    }
    this.clear();
    return jobs;
  }

  #queueOf(key: string): PriorityQueue<Job> {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = new PriorityQueue<Job>();
      this.#queues.set(key, queue);
      this.#ring.push(key);
    }
    return queue;
  }

  /** Drops the keys whose queue emptied, keeping the turn on the key it was at. */
  #prune(): void {
    const ring = this.#ring;
    const next = ring[this.#cursor % ring.length];
    this.#ring = ring.filter((key) => this.#queues.has(key));
    const at = next === undefined ? -1 : this.#ring.indexOf(next);
    this.#cursor = at < 0 ? 0 : at;
  }
}
