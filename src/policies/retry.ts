import { checkNumber, checkOptions, checkType, invalidType, invalidValue } from '../validate.js';

/** When and how often a failed attempt is tried again. Every field is optional; see `retryDefaults`. */
export interface RetryOptions {
  /** Attempts after the first: an integer ≥ 0. @default 0 */
  readonly retries?: number;
  /** The first backoff delay, and the floor of every later one, in milliseconds (≥ 0). @default 500 */
  readonly minDelayMs?: number;
  /** The longest wait between attempts; a Retry-After longer than this fails the task at once. @default 60_000 */
  readonly maxDelayMs?: number;
  /** Growth of the backoff per attempt (≥ 1). @default 2 */
  readonly factor?: number;
  /** `'full'` draws each delay uniformly between `minDelayMs` and the backoff; `'none'` waits the backoff. @default 'full' */
  readonly jitter?: 'full' | 'none';
  /**
   * Decides whether an attempt's error is worth another attempt, replacing the default classification
   * (`isRetryable`). `attempt` is the attempt that failed, from 1. Not asked for an error marked
   * `retryable: true` or `false`, nor for a cancel.
   */
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
}

export interface RetryPolicy {
  readonly retries: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly factor: number;
  readonly jitter: 'full' | 'none';
  readonly retryOn: ((error: unknown, attempt: number) => boolean) | undefined;
}

export const retryDefaults: RetryPolicy = {
  retries: 0,
  minDelayMs: 500,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 'full',
  retryOn: undefined,
};

const keys = Object.keys(retryDefaults);
/** What to write instead of the names p-retry, cockatiel and the LLM SDKs use. */
const aliases = {
  maxRetries: 'retries',
  maxAttempts: 'retries',
  attempts: 'retries',
  minTimeout: 'minDelayMs',
  initialDelay: 'minDelayMs',
  maxTimeout: 'maxDelayMs',
  exponent: 'factor',
  randomize: 'jitter',
  shouldRetry: 'retryOn',
  retryIf: 'retryOn',
};
const atLeast = (min: number) => (n: number) => n >= min;

/** Validates `options` (named `name` in errors) over `base`, field by field. */
export function resolveRetry(name: string, options: unknown, base: RetryPolicy): RetryPolicy {
  const { retries, minDelayMs, maxDelayMs, factor, jitter, retryOn } = {
    ...base,
    ...Object.fromEntries(Object.entries(checkOptions(name, options, keys, aliases)).filter(([, v]) => v !== undefined)),
  } as RetryPolicy;
  checkNumber(`${name}.retries`, retries, 'an integer ≥ 0 or Infinity', (n) => n >= 0 && (Number.isInteger(n) || n === Infinity));
  checkNumber(`${name}.minDelayMs`, minDelayMs, 'a finite number ≥ 0', (n) => n >= 0 && n !== Infinity);
  checkNumber(`${name}.maxDelayMs`, maxDelayMs, `a number ≥ minDelayMs (${minDelayMs})`, atLeast(minDelayMs));
  checkNumber(`${name}.factor`, factor, 'a finite number ≥ 1', (n) => n >= 1 && n !== Infinity);
  if (jitter !== 'full' && jitter !== 'none') {
    // A string that is not one of the two is a bad value; anything else, a bad type.
    (typeof jitter === 'string' ? invalidValue : invalidType)(`${name}.jitter`, "'full' or 'none'", jitter);
  }
  if (retryOn !== undefined) {
    checkType(`${name}.retryOn`, retryOn, 'function');
  }
  return { retries, minDelayMs, maxDelayMs, factor, jitter, retryOn };
}

type Fields = {
  status?: unknown;
  statusCode?: unknown;
  response?: Fields;
  headers?: unknown;
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  retryable?: unknown;
};

const fields = (error: unknown): Fields =>
  typeof error === 'object' && error !== null ? (error as Fields) : {};

/** The HTTP status an error carries: `status` or `statusCode`, on it or on its `response`. */
export function statusOf(error: unknown): number | undefined {
  const { status, statusCode, response } = fields(error);
  const found = [status, statusCode, fields(response).status].find((s) => typeof s === 'number');
  return found as number | undefined;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** `fetch` rejects with a TypeError of one of these messages (Node's undici, Chromium, Firefox, Safari). */
const FETCH_FAILED = /^(fetch failed|failed to fetch|networkerror when attempting to fetch resource\.?|load failed)$/i;

/** A connection that failed or broke: by code, by the openai SDK's connection errors, or a failed `fetch`; causes are followed. */
export function isNetworkError(error: unknown): boolean {
  for (let e = error, depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const { code, name, message } = fields(e);
    if (
      NETWORK_CODES.has(code as string) ||
      name === 'APIConnectionError' ||
      name === 'APIConnectionTimeoutError' ||
      message === 'socket hang up' ||
      (e instanceof TypeError && FETCH_FAILED.test(message as string))
    ) {
      return true;
    }
    e = fields(e).cause;
  }
  return false;
}

/**
 * The default classification: true for HTTP 408, 409, 429 and ≥ 500 and for network errors, false for
 * everything else (other 4xx, a plain `Error`). An error's own `retryable: true | false` wins.
 */
export function isRetryable(error: unknown): boolean {
  const { retryable } = fields(error);
  if (typeof retryable === 'boolean') {
    return retryable;
  }
  const status = statusOf(error);
  if (status !== undefined) {
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
  return isNetworkError(error);
}

function header(headers: unknown, name: string): string | null {
  if (typeof headers !== 'object' || headers === null) {
    return null;
  }
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name);
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) {
      return Array.isArray(value) ? String(value[0]) : String(value);
    }
  }
  return null;
}

/**
 * How long the provider asked to wait, in milliseconds, from the error's headers (the openai SDK's
 * `APIError.headers`, a thrown `Response`, an error with a `response`, or a plain object): `retry-after-ms`
 * first, then `retry-after` in seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterMs(error: unknown, nowMs = Date.now()): number | undefined {
  const { headers, response } = fields(error);
  for (const source of [headers, fields(response).headers]) {
    const ms = Number.parseFloat(header(source, 'retry-after-ms') ?? '');
    if (ms >= 0) {
      return ms;
    }
    const after = header(source, 'retry-after');
    if (after !== null && after.trim() !== '') {
      const seconds = Number(after);
      if (seconds >= 0) {
        return seconds * 1000;
      }
      // An HTTP date has letters (`Wed, 21 Oct 2015 07:28:00 GMT`); "-3" or "soon" is no Retry-After.
      const date = /[a-z]/i.test(after) ? Date.parse(after) : Number.NaN;
      if (!Number.isNaN(date)) {
        return Math.max(0, date - nowMs);
      }
    }
  }
  return undefined;
}

/** The backoff before attempt `failed + 1`, without a Retry-After. */
export function backoffMs(policy: RetryPolicy, failed: number, random: () => number): number {
  const { minDelayMs, maxDelayMs, factor, jitter } = policy;
  if (jitter === 'none') {
    return Math.min(maxDelayMs, minDelayMs * factor ** (failed - 1));
  }
  const top = Math.min(maxDelayMs, minDelayMs * factor ** failed);
  return minDelayMs + random() * (top - minDelayMs);
}
