import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { APIError as AnthropicApiError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import { APICallError, RetryError } from 'ai';
import OpenAI from 'openai';
import { Dispatcher, isNetworkError, isRetryable, retryAfterMs, statusOf, type TaskContext } from '../src/index.js';
import { isOverloaded } from '../src/policies/retry.js';
import { advance, untilAborted } from './helpers.js';

// The default classification against the errors the three clients really throw: their own classes,
// built as each client builds them from a response (the integration tests get them over HTTP).

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

/** The AI SDK's error for an HTTP failure: `statusCode`, `responseHeaders` as a plain object, `isRetryable`. */
function aiSdkError(statusCode: number, responseHeaders: Record<string, string> = {}, isRetryable?: boolean): APICallError {
  return new APICallError({
    message: `HTTP ${statusCode}`,
    url: 'http://127.0.0.1/v1/chat/completions',
    requestBodyValues: {},
    statusCode,
    responseHeaders,
    ...(isRetryable !== undefined && { isRetryable }),
  });
}

/** What `generateText`/`streamText` throw once their own retries are spent or meet a final error. */
const aiSdkRetryError = (reason: 'maxRetriesExceeded' | 'errorNotRetryable', errors: unknown[]): RetryError =>
  new RetryError({ message: `Failed after ${errors.length} attempts`, reason, errors });

const anthropicBody = (type: string, message: string) => ({ type: 'error', error: { type, message } });

/** The Anthropic SDK's error for an SSE `error` event in a 200 stream: no status, `type` from the event. */
const anthropicStreamError = (type: NonNullable<AnthropicApiError['type']>): AnthropicApiError =>
  new AnthropicApiError(undefined, anthropicBody(type, 'Overloaded'), undefined, new Headers(), type);

const timeout = new DOMException('The task timed out after 50 ms', 'TimeoutError');

describe('the default classification of each client’s errors', () => {
  test.each([
    ['AI SDK 429', aiSdkError(429), true],
    ['AI SDK 400', aiSdkError(400), false],
    ['AI SDK 500 that the SDK calls final (isRetryable: false)', aiSdkError(500, {}, false), false],
    ['AI SDK 400 that a provider calls transient (isRetryable: true)', aiSdkError(400, {}, true), true],
    ['AI SDK RetryError after its own retries on 429s', aiSdkRetryError('maxRetriesExceeded', [aiSdkError(429), aiSdkError(429)]), true],
    ['AI SDK RetryError that met a 400', aiSdkRetryError('errorNotRetryable', [aiSdkError(429), aiSdkError(400)]), false],
    ['Anthropic 429', new RateLimitError(429, anthropicBody('rate_limit_error', 'slow down'), undefined, new Headers()), true],
    ['Anthropic 529', new OverloadedError(529, anthropicBody('overloaded_error', 'Overloaded'), undefined, new Headers()), true],
    ['Anthropic overloaded_error mid-stream (no status)', anthropicStreamError('overloaded_error'), true],
    ['Anthropic rate_limit_error mid-stream', anthropicStreamError('rate_limit_error'), true],
    ['Anthropic api_error mid-stream', anthropicStreamError('api_error'), true],
    ['Anthropic timeout_error mid-stream', anthropicStreamError('timeout_error'), true],
    ['Anthropic invalid_request_error mid-stream', anthropicStreamError('invalid_request_error'), false],
    ['openai 429', OpenAI.APIError.generate(429, { message: 'slow down' }, undefined, new Headers()), true],
    ['openai server_error chunk mid-stream (no status)', new OpenAI.APIError(undefined, { message: 'x', type: 'server_error' }, undefined, new Headers()), true],
    ['a plain Error wrapping an AI SDK 503 as its cause', new Error('summary failed', { cause: aiSdkError(503) }), true],
    ['a plain Error wrapping a 400', new Error('summary failed', { cause: aiSdkError(400) }), false],
    ['duta’s timeout abort reason', timeout, true],
    ['a timeout of AbortSignal.timeout()', new DOMException('signal timed out', 'TimeoutError'), true],
    ['an AbortError', new DOMException('aborted', 'AbortError'), false],
  ])('%s → %p', (_, error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });

  test('an error’s own retryable wins over what it wraps', () => {
    expect(isRetryable(Object.assign(new Error('stop'), { retryable: false, cause: aiSdkError(429) }))).toBe(false);
    expect(isRetryable(Object.assign(new Error('go'), { retryable: true, cause: aiSdkError(400) }))).toBe(true);
  });

  test('the status is found on a wrapped error, outermost first', () => {
    expect(statusOf(aiSdkError(529))).toBe(529);
    expect(statusOf(aiSdkRetryError('maxRetriesExceeded', [aiSdkError(500), aiSdkError(429)]))).toBe(429);
    expect(statusOf(new Error('outer', { cause: Object.assign(new Error('inner'), { status: 503 }) }))).toBe(503);
    expect(statusOf(Object.assign(new Error('outer'), { status: 400, cause: aiSdkError(503) }))).toBe(400);
    expect(statusOf(anthropicStreamError('overloaded_error'))).toBeUndefined();
  });

  test('wrapping is followed four levels deep, and a loop of causes ends', () => {
    const wrap = (cause: unknown) => new Error('wrapper', { cause });
    expect(isRetryable(wrap(wrap(wrap(aiSdkError(429)))))).toBe(true);
    expect(isRetryable(wrap(wrap(wrap(wrap(aiSdkError(429))))))).toBe(false);
    const loop = new Error('a') as Error & { cause?: unknown };
    loop.cause = new Error('b', { cause: loop });
    expect(isRetryable(loop)).toBe(false);
    expect(isNetworkError(loop)).toBe(false);
    expect(statusOf(loop)).toBeUndefined();
  });

  test('Retry-After is read from the AI SDK’s responseHeaders, through its RetryError, and from the Anthropic SDK’s Headers', () => {
    expect(retryAfterMs(aiSdkError(429, { 'retry-after': '2' }))).toBe(2_000);
    expect(retryAfterMs(aiSdkError(429, { 'retry-after-ms': '250', 'retry-after': '1' }))).toBe(250);
    expect(retryAfterMs(aiSdkRetryError('maxRetriesExceeded', [aiSdkError(429, { 'retry-after': '9' }), aiSdkError(429, { 'retry-after': '3' })]))).toBe(3_000);
    const overloaded = new OverloadedError(529, anthropicBody('overloaded_error', 'Overloaded'), undefined, new Headers({ 'retry-after': '4' }));
    expect(retryAfterMs(overloaded)).toBe(4_000);
    expect(retryAfterMs(new Error('wrapped', { cause: overloaded }))).toBe(4_000);
    expect(retryAfterMs(aiSdkError(429))).toBeUndefined();
  });

  test('429, 503 and 529 are overload, and so is a status-less overloaded_error or rate_limit_error', () => {
    expect([429, 503, 529, 500, 400].map((status) => isOverloaded(aiSdkError(status)))).toEqual([true, true, true, false, false]);
    expect(isOverloaded(anthropicStreamError('overloaded_error'))).toBe(true);
    expect(isOverloaded(anthropicStreamError('rate_limit_error'))).toBe(true);
    expect(isOverloaded(anthropicStreamError('api_error'))).toBe(false);
    expect(isOverloaded(timeout)).toBe(false);
  });
});

describe('the dispatcher with each client’s errors', () => {
  const failing = (errors: unknown[], starts: number[] = []) => (ctx: TaskContext) => {
    starts.push(Date.now());
    const error = errors[ctx.attempt - 1];
    return error === undefined ? Promise.resolve(`ok on ${ctx.attempt}`) : Promise.reject(error);
  };

  test('an Anthropic 529 with a Retry-After pauses every start and cuts the adaptive limit, as a 503 does', async () => {
    const d = new Dispatcher({ maxWorkers: 10, adaptive: { decrease: 0.5 }, retry: { retries: 1, minDelayMs: 1 } });
    const overloaded = new OverloadedError(529, anthropicBody('overloaded_error', 'Overloaded'), undefined, new Headers({ 'retry-after': '2' }));
    const pending = d.dispatch([{ id: 'a', func: failing([overloaded]) }]);
    await advance(0);
    expect(d.paused).toBe(true);
    expect(d.currentLimit).toBe(5);
    await advance(2_000);
    expect(await pending).toMatchObject([{ status: 'done', attempts: 2 }]);
  });

  test('an AI SDK RetryError of 429s is retried after its last Retry-After, with every start paused', async () => {
    const d = new Dispatcher({ maxWorkers: 2, retry: { retries: 1, minDelayMs: 1, jitter: 'none' } });
    const limited = aiSdkRetryError('maxRetriesExceeded', [aiSdkError(429, { 'retry-after': '1' }), aiSdkError(429, { 'retry-after': '3' })]);
    const starts: number[] = [];
    const t0 = Date.now();
    const pending = d.dispatch([{ id: 'a', func: failing([limited], starts) }]);
    await advance(0);
    expect(d.paused).toBe(true);
    await advance(3_000);
    expect(await pending).toMatchObject([{ status: 'done', attempts: 2 }]);
    expect(starts.map((s) => s - t0)).toEqual([0, 3_000]);
  });

  test('a status-less mid-stream overloaded_error is retried and cuts the adaptive limit', async () => {
    const d = new Dispatcher({ maxWorkers: 10, adaptive: { decrease: 0.5 }, retry: { retries: 1, minDelayMs: 1 } });
    const pending = d.dispatch([{ id: 'a', func: failing([anthropicStreamError('overloaded_error')]) }]);
    await advance(10);
    expect(await pending).toMatchObject([{ status: 'done', attempts: 2 }]);
    expect(d.currentLimit).toBe(5);
  });

  test('a retryOn built on isRetryable keeps retrying timeouts (the abort reason is a TimeoutError)', async () => {
    const asked: unknown[] = [];
    const d = new Dispatcher({
      timeoutMs: 50,
      retry: {
        retries: 2,
        minDelayMs: 1,
        retryOn: (error) => {
          asked.push(error);
          return isRetryable(error) && statusOf(error) !== 500;
        },
      },
    });
    const pending = d.dispatch([{ id: 'a', func: (ctx: TaskContext) => (ctx.attempt === 1 ? untilAborted(ctx) : 'second time') }]);
    await advance(100);
    expect(await pending).toMatchObject([{ status: 'done', result: 'second time', attempts: 2 }]);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeInstanceOf(DOMException);
    expect((asked[0] as DOMException).name).toBe('TimeoutError');
  });

  test('a retryOn that does not ask isRetryable decides about timeouts too: the documented trap', async () => {
    const d = new Dispatcher({ timeoutMs: 50, retry: { retries: 2, minDelayMs: 1, retryOn: (error) => statusOf(error) === 429 } });
    const pending = d.dispatch([{ id: 'a', func: (ctx: TaskContext) => (ctx.attempt === 1 ? untilAborted(ctx) : 'second time') }]);
    await advance(100);
    expect(await pending).toMatchObject([{ status: 'timeout', attempts: 1 }]);
  });
});
