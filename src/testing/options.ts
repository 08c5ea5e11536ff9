import { checkCount, checkNumber, checkOptions, invalidType } from '../validate.js';

/** Fixed, log-normal (`spread` is the σ of ln(latency)) or uniform latency, in milliseconds. */
export type LatencyModel = number | { readonly median: number; readonly spread: number } | { readonly min: number; readonly max: number };

/** What `startMockLlm(options)` takes: each field optional, validated at the start. */
export interface MockLlmOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Time to answer an admitted request, in ms. @default { median: 250, spread: 0.5 } */
  readonly latencyMs?: LatencyModel;
  /** Extra latency per requested `max_tokens`, in ms, so long answers take longer. @default 0 */
  readonly latencyPerTokenMs?: number;
  /** Requests admitted per sliding 60 s window; over it, 429. @default Infinity */
  readonly requestsPerMinute?: number;
  /** Tokens (prompt + `max_tokens`) admitted per sliding 60 s window; over it, 429. @default Infinity */
  readonly tokensPerMinute?: number;
  /** Most requests in flight at once; over it, 429. @default Infinity */
  readonly maxConcurrent?: number;
  /** The Retry-After of a 429 for `maxConcurrent`, in milliseconds (a slot frees when any request ends). @default 1000 */
  readonly concurrencyRetryAfterMs?: number;
  /** Share of admitted requests answered at once with 500 or 503 (half each). @default 0 */
  readonly errorRate?: number;
  /** Share of admitted requests never answered. @default 0 */
  readonly hangRate?: number;
  /** Share of admitted requests whose connection is reset mid-response. @default 0 */
  readonly resetRate?: number;
  /** The first `count` requests get `status` at once (a bare number: that many 503s). @default none */
  readonly failFirst?: number | { readonly count: number; readonly status: number };
  /** Seed of the random draws (latency, faults, answers). @default 1 */
  readonly seed?: number;
  /** `max_tokens` assumed when a request gives none, for the token limit and the answer's length. @default 256 */
  readonly defaultMaxTokens?: number;
}

export interface ResolvedMockOptions {
  readonly port: number;
  readonly latencyMs: LatencyModel;
  readonly latencyPerTokenMs: number;
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number;
  readonly maxConcurrent: number;
  readonly concurrencyRetryAfterMs: number;
  readonly errorRate: number;
  readonly hangRate: number;
  readonly resetRate: number;
  readonly failFirst: { readonly count: number; readonly status: number };
  readonly seed: number;
  readonly defaultMaxTokens: number;
}

const defaults: ResolvedMockOptions = {
  port: 0,
  latencyMs: { median: 250, spread: 0.5 },
  latencyPerTokenMs: 0,
  requestsPerMinute: Infinity,
  tokensPerMinute: Infinity,
  maxConcurrent: Infinity,
  concurrencyRetryAfterMs: 1000,
  errorRate: 0,
  hangRate: 0,
  resetRate: 0,
  failFirst: { count: 0, status: 503 },
  seed: 1,
  defaultMaxTokens: 256,
};

const nonNegative = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a finite number ≥ 0', (n) => Number.isFinite(n) && n >= 0);
const rate = (name: string, value: unknown): number => checkNumber(name, value, 'a number from 0 to 1', (n) => n >= 0 && n <= 1);
const integer = (name: string, value: unknown, min: number): number =>
  checkNumber(name, value, `an integer ≥ ${min}`, (n) => Number.isInteger(n) && n >= min);

function checkLatency(value: unknown): LatencyModel {
  if (typeof value === 'number') {
    return nonNegative('latencyMs', value);
  }
  if (typeof value !== 'object' || value === null) {
    return invalidType('latencyMs', 'a number, { median, spread } or { min, max }', value);
  }
  if ('median' in value) {
    checkOptions('latencyMs', value, ['median', 'spread']);
    const { median, spread } = value as { median: unknown; spread: unknown };
    return { median: nonNegative('latencyMs.median', median), spread: nonNegative('latencyMs.spread', spread) };
  }
  checkOptions('latencyMs', value, ['min', 'max']);
  const { min, max } = value as { min: unknown; max: unknown };
  const low = nonNegative('latencyMs.min', min);
  return { min: low, max: checkNumber('latencyMs.max', max, `a finite number ≥ min (${low})`, (n) => Number.isFinite(n) && n >= low) };
}

function checkFailFirst(value: unknown): ResolvedMockOptions['failFirst'] {
  if (typeof value === 'number') {
    return { count: integer('failFirst', value, 0), status: 503 };
  }
  const { count, status } = checkOptions('failFirst', value, ['count', 'status']) as { count: unknown; status: unknown };
  return {
    count: integer('failFirst.count', count, 0),
    status: checkNumber('failFirst.status', status, 'an HTTP status from 400 to 599', (n) => Number.isInteger(n) && n >= 400 && n <= 599),
  };
}

export function resolveMockOptions(options: MockLlmOptions = {}): ResolvedMockOptions {
  // The command line's flag names, as a user of both may write them.
  checkOptions('options', options, Object.keys(defaults), { rpm: 'requestsPerMinute', tpm: 'tokensPerMinute', latency: 'latencyMs' });
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as MockLlmOptions;
  const resolved: ResolvedMockOptions = {
    port: given.port === undefined ? 0 : checkNumber('port', given.port, 'an integer from 0 to 65535', (n) => Number.isInteger(n) && n >= 0 && n <= 65_535),
    latencyMs: given.latencyMs === undefined ? defaults.latencyMs : checkLatency(given.latencyMs),
    latencyPerTokenMs: nonNegative('latencyPerTokenMs', given.latencyPerTokenMs ?? 0),
    requestsPerMinute: checkCount('requestsPerMinute', given.requestsPerMinute ?? Infinity),
    tokensPerMinute: checkCount('tokensPerMinute', given.tokensPerMinute ?? Infinity),
    maxConcurrent: checkCount('maxConcurrent', given.maxConcurrent ?? Infinity),
    concurrencyRetryAfterMs: nonNegative('concurrencyRetryAfterMs', given.concurrencyRetryAfterMs ?? 1000),
    errorRate: rate('errorRate', given.errorRate ?? 0),
    hangRate: rate('hangRate', given.hangRate ?? 0),
    resetRate: rate('resetRate', given.resetRate ?? 0),
    failFirst: given.failFirst === undefined ? defaults.failFirst : checkFailFirst(given.failFirst),
    seed: checkNumber('seed', given.seed ?? defaults.seed, 'an integer from 0 to 2^32 - 1', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff),
    defaultMaxTokens: integer('defaultMaxTokens', given.defaultMaxTokens ?? defaults.defaultMaxTokens, 1),
  };
  if (resolved.errorRate + resolved.hangRate + resolved.resetRate > 1) {
    throw new RangeError(
      `Expected \`errorRate + hangRate + resetRate\` to be at most 1, got ${resolved.errorRate + resolved.hangRate + resolved.resetRate}`,
    );
  }
  return resolved;
}
