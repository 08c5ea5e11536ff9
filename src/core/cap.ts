import pLimit, { type LimitFunction } from 'p-limit';
import type { Emitter } from '../events.js';
import { Aimd, type AdaptivePolicy } from '../policies/adaptive.js';

/**
 * The cap on concurrency: p-limit, the one gate on how many slots run, at `maxWorkers` or at adaptive
 * mode's current limit below it.
 */
export class Cap {
  readonly #limit: LimitFunction;
  readonly aimd: Aimd | undefined;
  #maxWorkers: number;

  constructor(
    maxWorkers: number,
    adaptive: AdaptivePolicy | undefined,
    readonly events: Emitter,
    /** The limit went up or down: slots may be asked for. */
    readonly changed: () => void,
  ) {
    this.#maxWorkers = maxWorkers;
    this.aimd =
      adaptive &&
      new Aimd(adaptive, (limit, previous) => {
        this.#limit.concurrency = limit;
        events.emit('limit', { limit, previous });
        changed();
      });
    this.#limit = pLimit(this.aimd?.limit ?? maxWorkers);
  }

  /** The limit in force: `maxWorkers`, or adaptive mode's current limit. */
  get limit(): number {
    return this.#limit.concurrency;
  }

  /** The configured cap: `maxWorkers`, or adaptive mode's `max`. */
  get maxWorkers(): number {
    return this.#maxWorkers;
  }

  set maxWorkers(value: number) {
    this.#maxWorkers = value;
    if (this.aimd !== undefined) {
      this.aimd.setMax(value);
      return;
    }
    const previous = this.#limit.concurrency;
    this.#limit.concurrency = value;
    if (value !== previous) {
      this.events.emit('limit', { limit: value, previous });
    }
    this.changed();
  }

  /** Adaptive mode's count of cuts, noted by each attempt at its start. */
  get cuts(): number {
    return this.aimd?.cuts ?? 0;
  }

  /** Asks p-limit for a slot: `run` is called once it is granted, and the slot is held until its promise settles. */
  ask(run: () => Promise<void>): void {
    void this.#limit(run);
  }
}
