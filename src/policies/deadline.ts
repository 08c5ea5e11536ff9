import { checkNumber, invalidValue } from '../validate.js';

/** A deadline: epoch milliseconds, a `Date`, or a function returning the milliseconds left. */
export type Deadline = number | Date | (() => number);

/** 2000-01-01 in epoch milliseconds: an earlier deadline is a duration given where a time was meant. */
const YEAR_2000 = 946_684_800_000;

/** The deadline as a function returning the milliseconds left, read at each call. */
export function resolveDeadline(value: unknown): () => number {
  if (typeof value === 'function') {
    const left = value as () => number;
    checkNumber('deadline()', left(), 'a number of milliseconds left', (n) => !Number.isNaN(n));
    return left;
  }
  const at = value instanceof Date ? value.getTime() : value;
  checkNumber('deadline', at, 'epoch milliseconds, a valid Date, or a function returning the milliseconds left', Number.isFinite);
  if ((at as number) < YEAR_2000) {
    // `deadline: 25_000` would otherwise cancel everything at once as "the deadline has come".
    invalidValue('deadline', `epoch milliseconds (a time, not a duration: pass \`Date.now() + ${at as number}\` or a function returning the milliseconds left)`, at);
  }
  return () => (at as number) - Date.now();
}
