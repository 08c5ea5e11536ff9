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
   * (`isRetryable`), timeouts included: a timed-out attempt is asked about with its abort reason, a
   * `DOMException` named `TimeoutError`, which `isRetryable` calls retryable, so `(e) => isRetryable(e) && …`
   * keeps retrying timeouts. `attempt` is the attempt that failed, from 1. Not asked for an error marked
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
  responseHeaders?: unknown;
  code?: unknown;
  name?: unknown;
  message?: unknown;
  type?: unknown;
  cause?: unknown;
  lastError?: unknown;
  retryable?: unknown;
  isRetryable?: unknown;
};

const fields = (error: unknown): Fields =>
  typeof error === 'object' && error !== null ? (error as Fields) : {};

/**
 * The first thing `read` finds on the error or on an error it wraps, outermost first: the AI SDK's
 * `RetryError` keeps the provider's error as `lastError`, other wrappers as `cause`. Four levels are
 * enough for every client's nesting and end a loop of causes.
 */
function find<T>(error: unknown, read: (level: Fields) => T | undefined): T | undefined {
  for (let e = error, depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const found = read(e as Fields);
    if (found !== undefined) {
      return found;
    }
    const { lastError, cause } = e as Fields;
    e = lastError ?? cause;
  }
  return undefined;
}

const statusHere = ({ status, statusCode, response }: Fields): number | undefined =>
  [status, statusCode, fields(response).status].find((s): s is number => typeof s === 'number');

/**
 * The HTTP status an error carries: `status` (the openai and Anthropic SDKs) or `statusCode` (the AI SDK),
 * on it or on its `response`, or on an error it wraps (`lastError`, `cause`).
 */
export function statusOf(error: unknown): number | undefined {
  return find(error, statusHere);
}

/** The statuses that say the provider is over capacity: each one pauses every start on a Retry-After and cuts the adaptive limit. 529 is Anthropic's "overloaded". */
export const isOverloadStatus = (status: number | undefined): boolean => status === 429 || status === 503 || status === 529;

/** Status-less errors of these types (an SSE `error` event of the Anthropic API, an `error` chunk of an OpenAI stream) are transient. */
const RETRYABLE_TYPES = new Set(['overloaded_error', 'rate_limit_error', 'api_error', 'timeout_error', 'server_error']);

/**
 * A failure that says the provider is over capacity: a 429, 503 or 529, or, without a status, an error
 * of type `overloaded_error` or `rate_limit_error` (as the Anthropic API sends mid-stream).
 */
export function isOverloaded(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined
    ? find(error, ({ type }) => type === 'overloaded_error' || type === 'rate_limit_error' || undefined) === true
    : isOverloadStatus(status);
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

/** A connection that failed or broke: by code, by the openai and Anthropic SDKs' connection errors, or a failed `fetch`; causes are followed. */
export function isNetworkError(error: unknown): boolean {
  return (
    find(
      error,
      (e) =>
        NETWORK_CODES.has(e.code as string) ||
        e.name === 'APIConnectionError' ||
        e.name === 'APIConnectionTimeoutError' ||
        e.message === 'socket hang up' ||
        (e instanceof TypeError && FETCH_FAILED.test(e.message as string)) ||
        undefined,
    ) === true
  );
}

/** What one level of an error says about retrying it, or undefined when it says nothing. */
function verdict(e: Fields): boolean | undefined {
  const { retryable, isRetryable: flag, type, name } = e;
  if (typeof retryable === 'boolean') {
    return retryable;
  }
  if (typeof flag === 'boolean') {
    return flag;
  }
  const status = statusHere(e);
  if (status !== undefined) {
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
  // A timeout (duta's own abort reason, `AbortSignal.timeout()`, the AI SDK's) is worth another attempt.
  return name === 'TimeoutError' || RETRYABLE_TYPES.has(type as string) || undefined;
}

/**
 * The default classification. Going from the error to the errors it wraps (`lastError`, then `cause`),
 * the first level that says something decides: its own `retryable` or `isRetryable` (the AI SDK's)
 * boolean; else its HTTP status, true for 408, 409, 429 and ≥ 500; else true for a `TimeoutError` and for
 * a status-less error of type `overloaded_error`, `rate_limit_error`, `api_error`, `timeout_error` or
 * `server_error`.
 * When none does, true for a network error and false for everything else (a plain `Error`, a string).
 */
export function isRetryable(error: unknown): boolean {
  return find(error, verdict) ?? isNetworkError(error);
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

/** The wait one set of headers asks for, in milliseconds. */
function waitIn(source: unknown, nowMs: number): number | undefined {
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
  return undefined;
}

/**
 * How long the provider asked to wait, in milliseconds, from the error's headers: `headers` (the openai
 * and Anthropic SDKs' `Headers`, a thrown `Response`, a plain object), `responseHeaders` (the AI SDK's
 * `APICallError`) or `response.headers`, on the error or on an error it wraps (`lastError`, `cause`):
 * `retry-after-ms` first, then `retry-after` in seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterMs(error: unknown, nowMs = Date.now()): number | undefined {
  return find(error, ({ headers, responseHeaders, response }) => {
    for (const source of [headers, responseHeaders, fields(response).headers]) {
      const ms = waitIn(source, nowMs);
      if (ms !== undefined) {
        return ms;
      }
    }
    return undefined;
  });
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
