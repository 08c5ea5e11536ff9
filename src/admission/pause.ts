import { now, setTimer, type Timer } from '../clock.js';
import type { Emitter, PauseReason } from '../events.js';

/** What a pause needs from the scheduler. */
export interface PauseHost {
  readonly events: Emitter;
  /** Whether jobs are queued: a timed pause holds a timer only then. */
  readonly queued: number;
  /** Starts may go again. */
  poke(): void;
}

/**
 * A stop on all starts: `pause()` until `resume()`, `pauseFor(ms)`, or a provider's Retry-After. Running
 * tasks go on. A timed pause holds a timer only while work is queued: an idle dispatcher holds none, so
 * a process whose work is done exits, and a pause that ends while idle ends quietly.
 */
export class Pause {
  /** Starts are paused until this time (from `now()`): 0 when not paused, `Infinity` until `resume()`. */
  #until = 0;
  #timer: Timer = undefined;
  /** Hears each pause for a Retry-After, to share it (a fleet coordinator); null when nobody does. */
  onRateLimit: ((ms: number) => void) | null = null;

  constructor(readonly host: PauseHost) {}

  /** Whether starts are paused now; ends a timed pause that ran out while idle. */
  get active(): boolean {
    if (this.#until !== 0 && this.#until <= now()) {
      this.#until = 0;
    }
    return this.#until !== 0;
  }

  /** Whether a pause is in place, without ending one that ran out while idle (`arm()` ends that). */
  get held(): boolean {
    return this.#until !== 0;
  }

  /** Until `resume()`. */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#until = Infinity;
    this.host.events.emit('pause', { reason: 'manual' });
  }

  /**
   * For `ms`, or longer if already paused for longer. A pause for a Retry-After is shared (with a fleet
   * coordinator, if any) unless `shared` is false: it came from the fleet.
   */
  pauseFor(ms: number, reason: PauseReason = 'manual', shared = true): void {
    if (reason === 'rate-limit' && shared) {
      this.onRateLimit?.(ms);
    }
    const until = now() + ms;
    if (until <= this.#until) {
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#until = until;
    this.arm();
    this.host.events.emit('pause', { reason, untilMs: Date.now() + ms });
  }

  resume(): void {
    if (this.#until !== 0) {
      this.#resume();
    }
  }

  /** Sets the timer that ends a timed pause, if work is queued and none is set. */
  arm(): void {
    const until = this.#until;
    if (until === 0 || until === Infinity || this.#timer !== undefined || this.host.queued === 0) {
      return;
    }
    const left = until - now();
    if (left <= 0) {
      this.#resume();
    } else {
      this.#timer = setTimer(left, this.#due, undefined);
    }
  }

  /**
   * The timer fired. Timers count from the event loop's cached time, which a busy turn leaves behind the
   * clock: one may fire a little before the pause ends, and then waits out the rest rather than resume early.
   */
  readonly #due = (): void => {
    const left = this.#until - now();
    if (left > 0) {
      this.#timer = setTimer(left, this.#due, undefined);
    } else {
      this.#resume();
    }
  };

  /** The dispatcher is idle: no timer is held. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #resume = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#until = 0;
    this.host.events.emit('resume', undefined);
    this.host.poke();
  };
}
