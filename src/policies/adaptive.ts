import { checkCount, checkNumber, checkOptions } from '../validate.js';

/** AIMD concurrency: cut by `decrease` on overload, +1 after `increaseAfter` successes in a row. */
export interface AdaptiveOptions {
  /** The lowest limit. @default 1 */
  readonly min?: number;
  /** The highest limit (at most `maxWorkers`), and the starting one (16 when it is `Infinity`). @default maxWorkers */
  readonly max?: number;
  /** Multiplier applied on an overload signal (a 429, a 503, a per-attempt timeout), > 0 and < 1. @default 0.9 */
  readonly decrease?: number;
  /** Consecutive successes that raise the limit by one. @default 20 */
  readonly increaseAfter?: number;
}

export interface AdaptivePolicy {
  readonly min: number;
  readonly max: number;
  readonly decrease: number;
  readonly increaseAfter: number;
}

/** What to write instead of the names concurrency-limit libraries use. */
const aliases = {
  minimum: 'min',
  maximum: 'max',
  minLimit: 'min',
  minWorkers: 'min',
  minConcurrency: 'min',
  maxLimit: 'max',
  maxWorkers: 'max',
  maxConcurrency: 'max',
  backoffRatio: 'decrease',
  backoff: 'decrease',
};

/** Validates the `adaptive` option; `undefined` or `false` is off. */
export function resolveAdaptive(value: unknown, maxWorkers: number): AdaptivePolicy | undefined {
  if (value === undefined || value === false) {
    return undefined;
  }
  const options = (value === true ? {} : checkOptions('adaptive', value, ['min', 'max', 'decrease', 'increaseAfter'], aliases)) as AdaptiveOptions;
  const { min = 1, max = maxWorkers, decrease = 0.9, increaseAfter = 20 } = options;
  // Each bound is checked against what is fixed before it (maxWorkers, then min), so the error names the
  // field that is out of range: `{ min: 10 }` under `maxWorkers: 4` is a bad `min`, not a bad default `max`.
  if (maxWorkers === Infinity) {
    checkCount('adaptive.min', min);
  } else {
    checkNumber('adaptive.min', min, `an integer from 1 to maxWorkers (${maxWorkers})`, (n) => n >= 1 && n <= maxWorkers && Number.isInteger(n));
  }
  checkNumber(
    'adaptive.max',
    max,
    `an integer from adaptive.min (${min}) to maxWorkers (${maxWorkers})`,
    (n) => n >= min && n <= maxWorkers && (Number.isInteger(n) || n === Infinity),
  );
  checkNumber('adaptive.decrease', decrease, 'a number > 0 and < 1', (n) => n > 0 && n < 1);
  checkCount('adaptive.increaseAfter', increaseAfter);
  return { min, max, decrease, increaseAfter };
}

/**
 * The limit itself. A cut is made only for a request sent since the last cut: one sent before it was
 * sent with more in flight than the limit now allows, so the cut has already answered it. A burst of
 * rejections therefore makes one cut, not one per rejection, which would collapse the limit far below
 * the provider's capacity (as TCP cuts its window once per round trip).
 */
export class Aimd {
  #successes = 0;
  limit: number;
  /** Cuts made so far: an attempt notes it at its start. */
  cuts = 0;

  constructor(
    public policy: AdaptivePolicy,
    readonly apply: (limit: number, previous: number) => void,
  ) {
    this.limit = policy.max === Infinity ? Math.max(policy.min, 16) : policy.max;
  }

  /** An attempt succeeded; `inflight` is how many ran when it started. Raised only when the limit was in use. */
  success(inflight: number): void {
    if (inflight * 2 >= this.limit && ++this.#successes >= this.policy.increaseAfter) {
      this.#set(this.limit + 1);
    }
  }

  /** An attempt failed otherwise: the run of successes starts again. */
  failure(): void {
    this.#successes = 0;
  }

  /** An attempt met an overload signal; `cuts` is the count of cuts when it started. */
  overload(cuts: number): void {
    if (cuts === this.cuts) {
      this.cuts++;
      this.#set(Math.floor(this.limit * this.policy.decrease));
    }
  }

  /** Applies a new `max` (from `maxWorkers` set at run time), keeping the limit within it. */
  setMax(max: number): void {
    this.policy = { ...this.policy, max, min: Math.min(this.policy.min, max) };
    this.#set(this.limit);
  }

  #set(value: number): void {
    this.#successes = 0;
    const { min, max } = this.policy;
    const next = Math.max(min, Math.min(max, value));
    const previous = this.limit;
    if (next !== previous) {
      this.limit = next;
      this.apply(next, previous);
    }
  }
}
