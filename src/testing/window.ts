/**
 * A sliding-window counter, as providers enforce per-minute limits: what was charged in the last
 * `windowMs` counts against `limit`, each charge leaving the window `windowMs` after it was made.
 */
export class SlidingWindow {
  readonly #charges: { at: number; amount: number }[] = [];
  #head = 0;
  #used = 0;

  constructor(
    readonly limit: number,
    readonly windowMs = 60_000,
  ) {}

  /** What is charged within the window at `now`. */
  used(now: number): number {
    this.#expire(now);
    return this.#used;
  }

  /** Milliseconds until `amount` more fits (0 if it fits now; `windowMs` if it can never fit). */
  waitMs(amount: number, now: number): number {
    this.#expire(now);
    if (amount > this.limit) {
      return this.windowMs;
    }
    let used = this.#used;
    for (let i = this.#head; used + amount > this.limit && i < this.#charges.length; i++) {
      const charge = this.#charges[i] as { at: number; amount: number };
      used -= charge.amount;
      if (used + amount <= this.limit) {
        return Math.max(1, charge.at + this.windowMs - now);
      }
    }
    return 0;
  }

  /** Milliseconds until the oldest charge leaves the window: when the count next goes down. */
  resetMs(now: number): number {
    this.#expire(now);
    const oldest = this.#charges[this.#head];
    return oldest === undefined ? 0 : Math.max(0, oldest.at + this.windowMs - now);
  }

  charge(amount: number, now: number): void {
    this.#charges.push({ at: now, amount });
    this.#used += amount;
  }

  clear(): void {
    this.#charges.length = 0;
    this.#head = 0;
    this.#used = 0;
  }

  #expire(now: number): void {
    const charges = this.#charges;
    while (this.#head < charges.length && (charges[this.#head] as { at: number }).at + this.windowMs <= now) {
      this.#used -= (charges[this.#head] as { amount: number }).amount;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > charges.length) {
      charges.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

/** A duration as providers write it in `x-ratelimit-reset-*` headers: `250ms`, `1s`, `6m0s`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) {
    return `${Math.ceil(ms)}ms`;
  }
  const seconds = Math.ceil(ms / 1_000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
