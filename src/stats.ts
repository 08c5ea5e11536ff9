import { now } from './clock.js';
import type { DispatchResult } from './result.js';

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
  /** Tasks finished in the last minute (estimated from the last 1024 when more finished). */
  readonly throughputPerMinute: number;
  /** Percentiles of `durationMs` of the last 1024 tasks that ran; 0 before any. */
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
  readonly #ends = new Float64Array(WINDOW);
  /** Results recorded in the rings so far (the next slot is `#count % WINDOW`). */
  #count = 0;

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
      const at = this.#count++ % WINDOW;
      this.#durations[at] = result.durationMs;
      this.#ends[at] = endedAt;
    }
  }

  snapshot(queued: number, running: number, limit: number, retries: number): DispatcherStats {
    const n = Math.min(this.#count, WINDOW);
    const sorted = this.#durations.slice(0, n).sort();
    const pick = (p: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] as number));
    const { done, failed, timedOut, cancelled } = this;
    return { queued, running, done, failed, timedOut, cancelled, retries, limit, throughputPerMinute: this.#perMinute(n), p50: pick(50), p95: pick(95), p99: pick(99) };
  }

  /** Ends within the last minute; when the ring's oldest end is itself within it, extrapolated from the ring's span. */
  #perMinute(n: number): number {
    const t = now();
    let inMinute = 0;
    let oldest = Infinity;
    for (let i = 0; i < n; i++) {
      const end = this.#ends[i] as number;
      oldest = Math.min(oldest, end);
      if (t - end <= 60_000) {
        inMinute++;
      }
    }
    if (n === WINDOW && inMinute === WINDOW && t > oldest) {
      return Math.round((WINDOW / (t - oldest)) * 60_000);
    }
    return inMinute;
  }
}
