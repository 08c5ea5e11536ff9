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

/** Sets a timer unless `ms` is `Infinity`; returns its cancel function, or null when none was set. */
export function startTimer(ms: number, callback: () => void): (() => void) | null {
  if (ms === Infinity) {
    return null;
  }
  const handle = setTimeout(callback, Math.min(ms, MAX_DELAY_MS));
  return () => clearTimeout(handle);
}
