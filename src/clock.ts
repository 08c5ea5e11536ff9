/**
 * The one place the dispatcher reads time and sets timers. It reads the globals at each call, so
 * Jest's fake timers, installed after import, drive it.
 */

/** A monotonic time in milliseconds. */
export const now = (): number => performance.now();

/**
 * Timers take a signed 32-bit delay and fire at once past it, so longer delays (over 24.8 days)
 * are capped there.
 */
const MAX_DELAY_MS = 2_147_483_647;

export type Timer = ReturnType<typeof setTimeout> | undefined;

/**
 * Calls `callback(arg)` after `ms`, unless `ms` is `Infinity`; returns the handle for `clearTimeout`.
 * The argument is passed by the timer, so a hot path sets a timer without making a closure.
 */
export const setTimer = <T>(ms: number, callback: (arg: T) => void, arg: T): Timer =>
  ms === Infinity ? undefined : setTimeout(callback, Math.min(ms, MAX_DELAY_MS), arg);
