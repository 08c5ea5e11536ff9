/**
 * A token bucket refilled continuously at `perMs` tokens a millisecond up to `capacity`, starting full.
 * It may go into debt: a cost above the capacity is let through once the bucket is full, and a cost
 * corrected upward after the fact is charged even if that leaves the level below zero. Time is passed
 * in, so the caller decides the clock.
 */
export class Bucket {
  #level: number;
  #at: number;

  constructor(
    readonly perMs: number,
    readonly capacity: number,
    now: number,
  ) {
    this.#level = capacity;
    this.#at = now;
  }

  /** The level at `now`, after the refill since the last reading. */
  level(now: number): number {
    if (now > this.#at) {
      this.#level = Math.min(this.capacity, this.#level + (now - this.#at) * this.perMs);
      this.#at = now;
    }
    return this.#level;
  }

  /** Milliseconds until `cost` can be taken: 0 when it can be now. A cost above the capacity waits for a full bucket. */
  waitMs(cost: number, now: number): number {
    const needed = Math.min(cost, this.capacity) - this.level(now);
    return needed <= 0 ? 0 : needed / this.perMs;
  }

  /** Takes `cost` (after `waitMs` said 0); a negative `cost` gives tokens back, never above the capacity. */
  take(cost: number, now: number): void {
    this.#level = Math.min(this.capacity, this.level(now) - cost);
  }
}
