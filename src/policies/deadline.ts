import { checkNumber } from '../validate.js';

/** A deadline: epoch milliseconds, a `Date`, or a function returning the milliseconds left. */
export type Deadline = number | Date | (() => number);

/** The deadline as a function returning the milliseconds left, read at each call. */
export function resolveDeadline(value: unknown): () => number {
  if (typeof value === 'function') {
    const left = value as () => number;
    checkNumber('deadline()', left(), 'a number of milliseconds left', (n) => !Number.isNaN(n));
    return left;
  }
  const at = value instanceof Date ? value.getTime() : value;
  checkNumber('deadline', at, 'epoch milliseconds, a valid Date, or a function returning the milliseconds left', Number.isFinite);
  return () => (at as number) - Date.now();
}
