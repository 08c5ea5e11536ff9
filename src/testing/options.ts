import { checkCount, checkNumber, checkOptions, checkType, invalidType } from '../validate.js';

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
  /** Share of admitted requests answered at once with 500 or an overload (half each): 503 on the OpenAI API, 529 on the Anthropic one. @default 0 */
  readonly errorRate?: number;
  /** Share of admitted requests never answered. @default 0 */
  readonly hangRate?: number;
  /** Share of admitted requests whose connection is reset mid-response. @default 0 */
  readonly resetRate?: number;
  /**
   * Share of admitted streamed requests broken off halfway by an error event: Anthropic's `overloaded_error`,
   * OpenAI's `server_error` chunk. A request that does not stream is answered whole. @default 0
   */
  readonly streamErrorRate?: number;
  /**
   * The first `count` requests get `status` at once (a bare number: that many 503s), with a Retry-After of
   * `retryAfterMs` (default 1000 for a 429, none otherwise). With `midStream: true`, a streamed request is
   * answered 200 instead and broken off halfway by an error event of `status`'s kind. @default none
   */
  readonly failFirst?: number | FailFirst;
  /** Seed of the random draws (latency, faults, answers). @default 1 */
  readonly seed?: number;
  /** `max_tokens` assumed when a request gives none, for the token limit and the answer's length. @default 256 */
  readonly defaultMaxTokens?: number;
}

/** A scripted run of failures at the start. */
export interface FailFirst {
  /** How many requests fail. */
  readonly count: number;
  /** Their status, 400 to 599. */
  readonly status: number;
  /** Streamed requests get a 200 broken off halfway by an error event of `status`'s kind. @default false */
  readonly midStream?: boolean;
  /** The Retry-After sent with each, in milliseconds (`retry-after` in whole seconds, rounded up, and `retry-after-ms`). @default 1000 for a 429, none otherwise */
  readonly retryAfterMs?: number;
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
  readonly streamErrorRate: number;
  readonly failFirst: { readonly count: number; readonly status: number; readonly midStream: boolean; readonly retryAfterMs: number | undefined };
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
  streamErrorRate: 0,
  failFirst: { count: 0, status: 503, midStream: false, retryAfterMs: undefined },
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
    return { ...defaults.failFirst, count: integer('failFirst', value, 0) };
  }
  const { count, status, midStream = false, retryAfterMs } = checkOptions('failFirst', value, ['count', 'status', 'midStream', 'retryAfterMs']) as Record<string, unknown>;
  const code = checkNumber('failFirst.status', status, 'an HTTP status from 400 to 599', (n) => Number.isInteger(n) && n >= 400 && n <= 599);
  return {
    count: integer('failFirst.count', count, 0),
    status: code,
    midStream: checkType('failFirst.midStream', midStream, 'boolean') as boolean,
    retryAfterMs: retryAfterMs === undefined ? (code === 429 ? 1000 : undefined) : nonNegative('failFirst.retryAfterMs', retryAfterMs),
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
    streamErrorRate: rate('streamErrorRate', given.streamErrorRate ?? 0),
    failFirst: given.failFirst === undefined ? defaults.failFirst : checkFailFirst(given.failFirst),
    seed: checkNumber('seed', given.seed ?? defaults.seed, 'an integer from 0 to 2^32 - 1', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff),
    defaultMaxTokens: integer('defaultMaxTokens', given.defaultMaxTokens ?? defaults.defaultMaxTokens, 1),
  };
  const faults = resolved.errorRate + resolved.hangRate + resolved.resetRate + resolved.streamErrorRate;
  if (faults > 1) {
    throw new RangeError(`Expected \`errorRate + hangRate + resetRate + streamErrorRate\` to be at most 1, got ${faults}`);
  }
  return resolved;
}
