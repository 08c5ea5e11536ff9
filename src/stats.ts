import { now } from './clock.js';
import { type DispatchResult, roundMs } from './result.js';

/** A snapshot of the dispatcher, from `dispatcher.stats()`. */
export interface DispatcherStats {
  /** Tasks accepted and not running: not started yet, or waiting to retry. */
  readonly queued: number;
  /** Slots held: running tasks, and timed-out or cancelled ones still inside their grace. */
  readonly running: number;
  /** Tasks that succeeded. */
  readonly done: number;
  /** Tasks that failed, timeouts and cancels apart. */
  readonly failed: number;
  readonly timedOut: number;
  readonly cancelled: number;
  /** Retries scheduled. */
  readonly retries: number;
  /** The concurrency limit in force (`currentLimit`). */
  readonly limit: number;
  /** Tasks that ran and ended in the last minute (counted by the second). */
  readonly throughputPerMinute: number;
  /** Percentiles of `durationMs` of the last 1024 tasks that ran, however long ago, in milliseconds to 0.01 ms; 0 before any. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** How many recent tasks the percentiles and the throughput are taken over: constant memory. */
const WINDOW = 1024;

/** Counts of results, and a ring of the latest durations and end times. */
export class Stats {
  done = 0;
  failed = 0;
  timedOut = 0;
  cancelled = 0;
  readonly #durations = new Float64Array(WINDOW);
  /** Durations recorded so far (the next slot is `#count % WINDOW`). */
  #count = 0;
  /** Ends per second over the last minute: `#perSecond[s % 60]` counts second `#second[s % 60]`. */
  readonly #perSecond = new Float64Array(60);
  readonly #second = new Float64Array(60).fill(-1);

  /** Counts a result; `endedAt` (from `now()`) is when a task that ran ended. */
  record(result: DispatchResult, endedAt: number): void {
    const { status } = result;
    if (status === 'done') {
      this.done++;
    } else if (status === 'failed') {
      this.failed++;
    } else if (status === 'timeout') {
      this.timedOut++;
    } else {
      this.cancelled++;
    }
    if (result.attempts > 0) {
      this.#durations[this.#count++ % WINDOW] = result.durationMs;
      const second = Math.floor(endedAt / 1000);
      const slot = second % 60;
      if (this.#second[slot] !== second) {
        this.#second[slot] = second;
        this.#perSecond[slot] = 0;
      }
      (this.#perSecond[slot] as number)++;
    }
  }

  snapshot(queued: number, running: number, limit: number, retries: number): DispatcherStats {
    const n = Math.min(this.#count, WINDOW);
    const sorted = this.#durations.slice(0, n).sort();
    const pick = (p: number): number => (n === 0 ? 0 : roundMs(sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] as number));
    const { done, failed, timedOut, cancelled } = this;
    return { queued, running, done, failed, timedOut, cancelled, retries, limit, throughputPerMinute: this.#perMinute(), p50: pick(50), p95: pick(95), p99: pick(99) };
  }

  /** Ends in the 60 whole seconds up to now. */
  #perMinute(): number {
    const current = Math.floor(now() / 1000);
    let sum = 0;
    for (let slot = 0; slot < 60; slot++) {
      if (current - (this.#second[slot] as number) < 60) {
        sum += this.#perSecond[slot] as number;
      }
    }
    return sum;
  }

}
