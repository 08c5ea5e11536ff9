import { now, setTimer, type Timer } from '../clock.js';

/** Something that expires after a list's time: a slot running an attempt. */
export interface Expiring {
  /** When it expires (from `now()`). */
  expiresAt: number;
  /** Its neighbours in the list it is in, if any. */
  before: Expiring | null;
  after: Expiring | null;
  /** The list it is in; null when in none. */
  list: TimeoutList | null;
  /** Called once when its time has come, after it has left the list. */
  expire(): void;
}

/**
 * The attempts running with one `timeoutMs`, in start order. They expire in that order too, so one
 * timer, set for the oldest, serves them all: an attempt costs two pointer writes to enter and to
 * leave, not a `setTimeout` and a `clearTimeout`. The timer is not moved when the oldest leaves early:
 * when it fires it expires what is due and is set again for the new oldest, which is never earlier.
 */
export class TimeoutList {
  #head: Expiring | null = null;
  #tail: Expiring | null = null;
  #timer: Timer = undefined;
  /**
   * What the timer was set for. Timers count whole milliseconds and may fire a fraction early: when it
   * fires, everything due by then is expired, though the clock may read a little less.
   */
  #due = 0;

  constructor(readonly ms: number) {}

  add(item: Expiring, at: number): void {
    item.expiresAt = at + this.ms;
    item.list = this;
    item.after = null;
    item.before = this.#tail;
    if (this.#tail === null) {
      this.#head = item;
    } else {
      this.#tail.after = item;
    }
    this.#tail = item;
    if (this.#timer === undefined) {
      // Set for the oldest, which is this item unless the list was added to while expiring.
      this.#due = (this.#head as Expiring).expiresAt;
      this.#timer = setTimer(this.#due - at, this.#fire, undefined);
    }
  }

  remove(item: Expiring): void {
    const { before, after } = item;
    if (before === null) {
      this.#head = after;
    } else {
      before.after = after;
    }
    if (after === null) {
      this.#tail = before;
    } else {
      after.before = before;
    }
    item.before = item.after = item.list = null;
  }

  /** Drops the timer (the dispatcher is idle); the list is empty then. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const due = this.#due;
    // The clock is read again after each expiry: ending hundreds of attempts takes long enough for the
    // next ones to come due, and they should not wait for the timer's next turn.
    for (let item = this.#head; item !== null && item.expiresAt <= Math.max(now(), due); item = this.#head) {
      this.remove(item);
      item.expire();
    }
    if (this.#head !== null && this.#timer === undefined) {
      this.#due = this.#head.expiresAt;
      this.#timer = setTimer(this.#due - now(), this.#fire, undefined);
    }
  };
}

/** Distinct `timeoutMs` values given lists; beyond them, an attempt sets a timer of its own. */
const MAX_LISTS = 32;

/**
 * One list per distinct `timeoutMs`, made on first use. Lists of tasks' own timeouts are dropped when
 * the dispatcher is idle; the dispatcher's own (pinned) stays.
 */
export class Timeouts {
  readonly #lists = new Map<number, TimeoutList>();
  #pinned: TimeoutList | null = null;
  /** The list of slots inside their grace, apart from the attempts' lists (the same ms may be both). */
  #graces: TimeoutList | null = null;

  /** The one list of slots inside their grace after an abort, or null for an endless grace. */
  gracesFor(ms: number): TimeoutList | null {
    this.#graces = ms === Infinity ? null : new TimeoutList(ms);
    return this.#graces;
  }

  /** The list for `ms`, or null for `Infinity` and for values past the first `MAX_LISTS`. `pin` keeps it when idle (the dispatcher's own timeout). */
  listFor(ms: number, pin = false): TimeoutList | null {
    let list = this.#lists.get(ms);
    if (list === undefined && ms !== Infinity && this.#lists.size < MAX_LISTS) {
      list = new TimeoutList(ms);
      this.#lists.set(ms, list);
    }
    if (pin) {
      this.#pinned = list ?? null;
    }
    return list ?? null;
  }

  /** The dispatcher is idle: no list holds a timer. */
  stop(): void {
    this.#graces?.stop();
    for (const list of this.#lists.values()) {
      list.stop();
      if (list !== this.#pinned) {
        this.#lists.delete(list.ms);
      }
    }
  }
}
