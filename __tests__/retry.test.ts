import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, isRetryable, retryAfterMs, type TaskContext } from '../src/index.js';
import { advance, deferred, flush, untilAborted } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers();
  // Seeded: every delay drawn with full jitter is the same from run to run.
  let seed = 42;
  jest.spyOn(Math, 'random').mockImplementation(() => {
    seed = (seed * 16_807) % 2_147_483_647;
    return (seed - 1) / 2_147_483_646;
  });
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});


/** An error as the openai SDK and fetch wrappers shape it: a status and headers. */
function httpError(status: number, headers: Record<string, string> = {}, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { status, headers: new Headers(headers) });
}

/** A task function that fails with the given errors, in turn, then returns 'ok'; it records each attempt's start time. */
function flaky(errors: unknown[], starts: number[] = []) {
  return (ctx: TaskContext) => {
    starts.push(Date.now());
    const error = errors[ctx.attempt - 1];
    return error === undefined ? Promise.resolve(`ok on ${ctx.attempt}`) : Promise.reject(error);
  };
}

describe('classification', () => {
  test.each([
    [httpError(408), true],
    [httpError(409), true],
    [httpError(429), true],
    [httpError(500), true],
    [httpError(503), true],
    [httpError(400), false],
    [httpError(401), false],
    [httpError(404), false],
    [httpError(422), false],
    [{ statusCode: 502 }, true],
    [{ response: { status: 504 } }, true],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), true],
    [new Error('socket hang up'), true],
    [new TypeError('fetch failed'), true],
    [new TypeError('Failed to fetch'), true],
    [new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }), true],
    [Object.assign(new Error('Connection error.'), { name: 'APIConnectionError' }), true],
    [new Error('Connection error.', { cause: Object.assign(new Error('y'), { code: 'UND_ERR_SOCKET' }) }), true],
    [new Error('plain'), false],
    [new TypeError('x is not a function'), false],
    ['a string', false],
    [null, false],
    [Object.assign(httpError(400), { retryable: true }), true],
    [Object.assign(httpError(503), { retryable: false }), false],
  ])('%p → %p', (error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });
});

describe('retryAfterMs', () => {
  const at = Date.parse('2026-01-01T00:00:00Z');
  test.each([
    [{ headers: new Headers({ 'retry-after-ms': '1500' }) }, 1500],
    [{ headers: new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }) }, 250],
    [{ headers: new Headers({ 'retry-after': '2' }) }, 2000],
    [{ headers: new Headers({ 'retry-after': '0.5' }) }, 500],
    [{ headers: { 'Retry-After': '3' } }, 3000],
    [{ headers: { 'retry-after': ['4'] } }, 4000],
    [{ headers: new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:07 GMT' }) }, 7000],
    [{ headers: new Headers({ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }) }, 0],
    [{ response: { headers: new Headers({ 'retry-after': '1' }) } }, 1000],
    [new Response(null, { status: 429, headers: { 'retry-after': '6' } }), 6000],
    [{ headers: new Headers({ 'retry-after': 'soon' }) }, undefined],
    [{ headers: new Headers({ 'retry-after-ms': '-5' }) }, undefined],
    [{ headers: {} }, undefined],
    [new Error('no headers'), undefined],
    [undefined, undefined],
  ])('%p → %p', (error, expected) => {
    expect(retryAfterMs(error, at)).toBe(expected);
  });
});

describe('retries', () => {
  test('off by default: one attempt, and the failure records it', async () => {
    const d = new Dispatcher();
    const [r] = await d.dispatch([{ id: 'a', func: flaky([httpError(503)]) }]);
    expect(r).toMatchObject({ status: 'failed', attempts: 1, attemptErrors: ['HTTP 503'], error: 'HTTP 503' });
  });

  test('a retryable failure is tried again after the backoff, and the result counts the attempts', async () => {
    const d = new Dispatcher({ retry: { retries: 3, minDelayMs: 100, factor: 2, jitter: 'none' } });
    const starts: number[] = [];
    const t0 = Date.now();
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500), httpError(502)], starts) }]);
    await advance(0);
    expect(starts).toEqual([t0]);
    await advance(99);
    expect(starts).toHaveLength(1);
    await advance(1);
    expect(starts).toEqual([t0, t0 + 100]);
    await advance(200);
    const [r] = await pending;
    expect(starts).toEqual([t0, t0 + 100, t0 + 300]);
    expect(r).toMatchObject({ success: true, result: 'ok on 3', attempts: 3 });
    expect(r?.durationMs).toBe(300);
  });

  test('full jitter draws each delay between minDelayMs and the backoff', async () => {
    const d = new Dispatcher({ retry: { retries: 4, minDelayMs: 100, maxDelayMs: 10_000, factor: 3 } });
    const starts: number[] = [];
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500), httpError(500), httpError(500), httpError(500)], starts) }]);
    await advance(60_000);
    await pending;
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number));
    expect(gaps).toHaveLength(4);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(100);
      expect(gap).toBeLessThanOrEqual(100 * 3 ** (i + 1));
    });
    expect(new Set(gaps).size).toBe(4);
  });

  test('gives up after `retries` more attempts with the last error and every attempt\'s message', async () => {
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10, jitter: 'none' } });
    const pending = d.dispatch([
      { id: 'a', func: flaky([httpError(500, {}, 'one'), httpError(502, {}, 'two'), httpError(503, {}, 'three'), undefined]) },
    ]);
    await advance(1_000);
    const [r] = await pending;
    expect(r).toMatchObject({ status: 'failed', error: 'three', attempts: 3, attemptErrors: ['one', 'two', 'three'] });
    expect((r as { cause: unknown }).cause).toBeInstanceOf(Error);
  });

  test('a final error (other 4xx, plain Error, retryable: false) is not retried', async () => {
    const d = new Dispatcher({ retry: { retries: 5, minDelayMs: 10 } });
    const pending = d.dispatch([
      { id: '400', func: flaky([httpError(400)]) },
      { id: 'plain', func: flaky([new Error('bug')]) },
      { id: 'marked', func: flaky([Object.assign(httpError(503), { retryable: false })]) },
      { id: 'forced', func: flaky([Object.assign(new Error('try me again'), { retryable: true })]) },
    ]);
    await advance(1_000);
    const results = await pending;
    expect(results.map((r) => [r.taskId, r.status, r.attempts])).toEqual([
      ['400', 'failed', 1],
      ['plain', 'failed', 1],
      ['marked', 'failed', 1],
      ['forced', 'done', 2],
    ]);
  });

  test('retryOn replaces the classification and is told the attempt', async () => {
    const asked: [string, number][] = [];
    const d = new Dispatcher({
      retry: {
        retries: 3,
        minDelayMs: 1,
        retryOn: (error, attempt) => {
          asked.push([(error as Error).message, attempt]);
          return (error as Error).message === 'again';
        },
      },
    });
    const pending = d.dispatch([{ id: 'a', func: flaky([new Error('again'), new Error('again'), httpError(503, {}, 'stop')]) }]);
    await advance(1_000);
    const [r] = await pending;
    expect(asked).toEqual([['again', 1], ['again', 2], ['stop', 3]]);
    expect(r).toMatchObject({ status: 'failed', attempts: 3, error: 'stop' });
  });

  test('a retryOn that throws counts as final, and the error says so', async () => {
    const d = new Dispatcher({ retry: { retries: 3, retryOn: () => { throw new Error('bug in retryOn'); } } });
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500, {}, 'first')]) }]);
    await advance(1_000);
    expect((await pending)[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: 'first (not retried: retry.retryOn threw: bug in retryOn)',
      attemptErrors: ['first'],
    });
  });

  test('a task\'s retry overrides fields of the dispatcher\'s', async () => {
    const d = new Dispatcher({ retry: { retries: 1, minDelayMs: 10, jitter: 'none' } });
    const pending = d.dispatch([
      { id: 'default', func: flaky([httpError(500), httpError(500), httpError(500)]) },
      { id: 'more', func: flaky([httpError(500), httpError(500), httpError(500)]), retry: { retries: 3 } },
      { id: 'none', func: flaky([httpError(500)]), retry: { retries: 0 } },
    ]);
    await advance(1_000);
    expect((await pending).map((r) => [r.taskId, r.status, r.attempts])).toEqual([
      ['default', 'failed', 2],
      ['more', 'done', 4],
      ['none', 'failed', 1],
    ]);
  });

  test('a per-attempt timeout is retried with a fresh signal, and ctx.attempt counts up', async () => {
    const d = new Dispatcher({ timeoutMs: 50, retry: { retries: 2, minDelayMs: 10, jitter: 'none' } });
    const signals: AbortSignal[] = [];
    const pending = d.dispatch([
      {
        id: 'a',
        func: (ctx: TaskContext) => {
          signals.push(ctx.signal);
          return ctx.attempt < 3 ? untilAborted(ctx) : 'third time';
        },
      },
    ]);
    await advance(1_000);
    const [r] = await pending;
    expect(r).toMatchObject({ status: 'done', result: 'third time', attempts: 3 });
    expect(r?.durationMs).toBe(50 + 10 + 50 + 20);
    expect(signals.map((s) => s.aborted)).toEqual([true, true, false]);
    expect(new Set(signals).size).toBe(3);
  });

  test('totalTimeoutMs bounds all attempts and waits: the last attempt is cut, and no retry starts past it', async () => {
    const d = new Dispatcher({ timeoutMs: 100, totalTimeoutMs: 250, retry: { retries: 10, minDelayMs: 20, jitter: 'none', factor: 1 } });
    const starts: number[] = [];
    const t0 = Date.now();
    const pending = d.dispatch([
      {
        id: 'a',
        func: (ctx: TaskContext) => {
          starts.push(Date.now() - t0);
          return untilAborted(ctx);
        },
      },
    ]);
    await advance(1_000);
    const [r] = await pending;
    expect(starts).toEqual([0, 120, 240]);
    expect(r).toMatchObject({ status: 'timeout', attempts: 3 });
    expect(r?.durationMs).toBe(250);
    expect(r?.error).toBe('task "a" timed out after 250 ms in total (totalTimeoutMs), over 3 attempt(s)');
  });

  test('a retry whose wait would outlast totalTimeoutMs is not made', async () => {
    const d = new Dispatcher({ totalTimeoutMs: 1_000, retry: { retries: 5, minDelayMs: 2_000, jitter: 'none' } });
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500, {}, 'down')]) }]);
    await advance(0);
    expect(d.pendingCount).toBe(0);
    expect((await pending)[0]).toMatchObject({ status: 'failed', attempts: 1, error: 'down' });
  });

  test('no slot is held during a backoff wait: with maxWorkers 1, another task runs meanwhile', async () => {
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 1, minDelayMs: 1_000, jitter: 'none' } });
    const order: string[] = [];
    const pending = d.dispatch([
      { id: 'flaky', func: (ctx: TaskContext) => { order.push(`flaky#${ctx.attempt}`); return ctx.attempt === 1 ? Promise.reject(httpError(503)) : 'ok'; } },
      { id: 'other', func: () => { order.push('other'); return 'ok'; } },
    ]);
    await advance(0);
    expect(order).toEqual(['flaky#1', 'other']);
    expect(d.pendingCount).toBe(1);
    expect(d.activeCount).toBe(0);
    await advance(1_000);
    await pending;
    expect(order).toEqual(['flaky#1', 'other', 'flaky#2']);
  });

  test('a retry re-enters ahead of newer tasks of its priority, behind higher priorities', async () => {
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 1, minDelayMs: 10, jitter: 'none' } });
    const order: string[] = [];
    const gate = deferred();
    const log = (name: string) => async (ctx: TaskContext) => {
      order.push(`${name}#${ctx.attempt}`);
      if (name === 'blocker') {
        await gate.promise;
      }
      if (name === 'r' && ctx.attempt === 1) {
        throw httpError(500);
      }
    };
    const pending = d.dispatch([
      { id: 'r', func: log('r') },
      { id: 'blocker', func: log('blocker') },
      { id: 'newer', func: log('newer') },
      { id: 'urgent', func: log('urgent'), priority: 5 },
    ]);
    await advance(0);
    // urgent went first, then r failed, then blocker holds the one slot while r's wait ends.
    expect(order).toEqual(['urgent#1', 'r#1', 'blocker#1']);
    await advance(10);
    gate.resolve();
    await advance(0);
    await pending;
    expect(order).toEqual(['urgent#1', 'r#1', 'blocker#1', 'r#2', 'newer#1']);
  });

  test('a dispatch signal, or shutdown(false), ends a task waiting to retry as cancelled', async () => {
    const d = new Dispatcher({ retry: { retries: 3, minDelayMs: 10_000, jitter: 'none' } });
    const controller = new AbortController();
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500, {}, 'first')]) }], { signal: controller.signal });
    const other = d.submit({ id: 'b', func: flaky([httpError(500, {}, 'first')]) });
    await advance(0);
    expect(d.pendingCount).toBe(2);
    controller.abort(new Error('stop'));
    const [r] = await pending;
    expect(r).toMatchObject({ status: 'cancelled', attempts: 1, attemptErrors: ['first'] });
    expect(r?.error).toBe('task "a" was cancelled: stop');
    await d.shutdown(false);
    expect(d.getResult(other)).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('shutdown(true) lets a pending retry finish', async () => {
    const d = new Dispatcher({ retry: { retries: 1, minDelayMs: 500, jitter: 'none' } });
    const id = d.submit({ id: 'a', func: flaky([httpError(500)]) });
    await advance(0);
    let done = false;
    const closing = d.shutdown(true).then(() => {
      done = true;
    });
    await advance(499);
    expect(done).toBe(false);
    await advance(1);
    await closing;
    expect(d.getResult(id)).toMatchObject({ status: 'done', attempts: 2 });
  });

  test('the retry event reports each wait', async () => {
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 100, jitter: 'none' } });
    const seen: unknown[] = [];
    d.on('retry', (e) => seen.push(e));
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500, {}, 'x'), httpError(500, {}, 'y')]) }]);
    await advance(1_000);
    await pending;
    expect(seen).toEqual([
      { taskId: 'a', attempt: 1, delayMs: 100, error: 'x' },
      { taskId: 'a', attempt: 2, delayMs: 200, error: 'y' },
    ]);
  });
});

describe('Retry-After', () => {
  test('the retry waits what the provider asked, plus at most minDelayMs of jitter', async () => {
    const d = new Dispatcher({ retry: { retries: 1, minDelayMs: 100 } });
    const starts: number[] = [];
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(500, { 'retry-after': '2' })], starts) }]);
    await advance(10_000);
    await pending;
    const gap = (starts[1] as number) - (starts[0] as number);
    expect(gap).toBeGreaterThanOrEqual(2_000);
    expect(gap).toBeLessThanOrEqual(2_100);
  });

  test('a Retry-After beyond maxDelayMs ends the task at once, saying what was asked', async () => {
    const d = new Dispatcher({ retry: { retries: 3, maxDelayMs: 5_000 } });
    const pending = d.dispatch([{ id: 'a', func: flaky([httpError(429, { 'retry-after': '60' }, 'Rate limited')]) }]);
    await advance(0);
    const [r] = await pending;
    expect(r).toMatchObject({ status: 'failed', attempts: 1 });
    expect(r?.error).toBe('Rate limited (the provider asked to retry after 60000 ms, more than retry.maxDelayMs: 5000 ms)');
  });
});

describe('queue-wide pause', () => {
  test('a 429 with a Retry-After stops every start until then; running tasks go on', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const events: unknown[] = [];
    d.on('pause', (e) => events.push(['pause', e.reason, e.untilMs]));
    d.on('resume', () => events.push(['resume', Date.now()]));
    const starts: [string, number][] = [];
    const slow = deferred<string>();
    const t0 = Date.now();
    const task = (id: string, run: () => Promise<string>) => ({ id, func: () => { starts.push([id, Date.now() - t0]); return run(); } });
    const pending = d.dispatch([
      task('limited', () => Promise.reject(httpError(429, { 'retry-after': '1' }))),
      task('running', () => slow.promise),
      task('next', () => Promise.resolve('n')),
    ]);
    await advance(0);
    expect(d.paused).toBe(true);
    expect(starts).toEqual([['limited', 0], ['running', 0]]);
    await advance(999);
    expect(starts).toHaveLength(2);
    expect(d.paused).toBe(true);
    await advance(1);
    expect(d.paused).toBe(false);
    expect(starts).toEqual([['limited', 0], ['running', 0], ['next', 1_000]]);
    slow.resolve('s');
    await pending;
    expect(events).toEqual([['pause', 'rate-limit', t0 + 1_000], ['resume', t0 + 1_000]]);
  });

  test('a 400 with a Retry-After does not pause; a 503 with one does', async () => {
    const d = new Dispatcher();
    await d.dispatch([{ id: 'a', func: flaky([httpError(400, { 'retry-after': '5' })]) }]);
    expect(d.paused).toBe(false);
    await d.dispatch([{ id: 'b', func: flaky([httpError(503, { 'retry-after': '5' })]) }]);
    expect(d.paused).toBe(true);
    await advance(5_000);
    expect(d.paused).toBe(false);
  });

  test('pause(), pauseFor() and resume() by hand', async () => {
    const d = new Dispatcher();
    const ran: string[] = [];
    d.pause();
    expect(d.paused).toBe(true);
    d.submit({ id: 'a', func: () => { ran.push('a'); } });
    await advance(60_000);
    expect(ran).toEqual([]);
    expect(d.pendingCount).toBe(1);
    d.resume();
    await advance(0);
    expect(ran).toEqual(['a']);
    d.pauseFor(100);
    d.pauseFor(50); // a shorter pause leaves the longer one in place
    d.submit({ id: 'b', func: () => { ran.push('b'); } });
    await advance(99);
    expect(ran).toEqual(['a']);
    await advance(1);
    expect(ran).toEqual(['a', 'b']);
    expect(() => d.pauseFor(-1)).toThrow(RangeError);
    expect(() => d.pauseFor('5' as unknown as number)).toThrow(TypeError);
  });
});
