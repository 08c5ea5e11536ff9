import { setTimer, type Timer } from '../clock.js';

/**
 * The dispatcher's deadline at run time: how long is left, why the work ends, and the timer that ends
 * it, set only while there is work.
 */
export class DeadlineWatch {
  /** Why the deadline could not be read, once it could not. */
  #error: string | undefined;
  #timer: Timer = undefined;

  constructor(
    /** Milliseconds left before the deadline itself, read at each call. */
    readonly left: () => number,
    readonly safetyMarginMs: number,
    /** Ends every unfinished job, running ones too, saying why. */
    readonly expire: (reason: string) => void,
  ) {}

  /**
   * Milliseconds an attempt may run before the deadline's safety margin: 0 or less once it has come.
   * A deadline that cannot be read fails closed: the work ends, saying why.
   */
  readonly timeLeft = (): number => {
    let left: unknown;
    try {
      left = this.left();
    } catch (error) {
      left = error;
    }
    if (typeof left !== 'number' || Number.isNaN(left)) {
      this.#error = `the deadline could not be read (deadline() gave ${left instanceof Error ? `an error: ${left.message}` : String(left)})`;
      return 0;
    }
    return left - this.safetyMarginMs;
  };

  /** Why the work is ended at the deadline. */
  get reason(): string {
    return this.#error ?? 'the deadline has come (deadline − safetyMarginMs)';
  }

  /** Sets the timer that ends everything at the deadline, unless it is set. */
  arm(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimer(Math.max(0, this.timeLeft()), this.#fire, undefined);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    // A function deadline may say there is more time than it did when the timer was set.
    if (this.timeLeft() > 0) {
      this.arm();
      return;
    }
    this.expire(this.reason);
  };
}
