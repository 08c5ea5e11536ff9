import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, dispatchParallel, retryAfterMs, type TaskContext, type TaskLike } from '../src/index.js';
import { advance, countListeners, flush, untilAborted } from './helpers.js';

// Each test here pins a defect an independent review found, by its symptom.
beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});


const httpError = (status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP ${status}`), { status, headers: new Headers(headers) });

describe('retries and the pause', () => {
  test('a pause whose timer fires before the clock reaches its end (a busy event-loop turn) waits out the rest', async () => {
    // Timers count from the loop's cached time: in a busy turn the clock is already 5 ms past it, so a
    // timer set then for the pause's 100 ms fires 5 ms before the pause ends by the clock.
    jest.useFakeTimers({ doNotFake: ['performance'] });
    let busy = 5;
    const fake = jest.spyOn(performance, 'now').mockImplementation(() => Date.now() + busy);
    try {
      const d = new Dispatcher({ maxWorkers: 1 });
      const events: string[] = [];
      d.on('pause', () => events.push('pause'));
      d.on('resume', () => events.push('resume'));
      const t0 = Date.now();
      d.pauseFor(100);
      let ranAt = -1;
      const pending = d.dispatch([{ id: 'a', func: () => { ranAt = Date.now() - t0; } }]);
      busy = 0;
      await advance(100);
      expect(ranAt).toBe(-1);
      expect(events).toEqual(['pause']);
      await advance(5);
      expect(events).toEqual(['pause', 'resume']);
      await pending;
      expect(ranAt).toBe(105);
    } finally {
      fake.mockRestore();
    }
  });

  test('a rate-limit pause holds no timer once the work is done, so the process can exit; it still delays later work', async () => {
    const d = new Dispatcher();
    const t0 = Date.now();
    await d.dispatch([{ id: 'a', func: () => Promise.reject(httpError(429, { 'retry-after': '20' })) }]);
    expect(d.paused).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    let ranAt = -1;
    await advance(5_000);
    const pending = d.dispatch([{ id: 'b', func: () => { ranAt = Date.now() - t0; } }]);
    await advance(14_999);
    expect(ranAt).toBe(-1);
    await advance(1);
    await pending;
    expect(ranAt).toBe(20_000);
    expect(d.paused).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a pause that ends while idle ends quietly: paused reads false after it', async () => {
    const d = new Dispatcher();
    d.pauseFor(1_000);
    expect(jest.getTimerCount()).toBe(0);
    expect(d.paused).toBe(true);
    await advance(1_000);
    expect(d.paused).toBe(false);
  });

  test('totalTimeoutMs ends a retry waiting in the queue for a slot, without starting it again', async () => {
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 3, minDelayMs: 10, jitter: 'none' } });
    const starts: string[] = [];
    const pending = d.dispatch([
      { id: 'a', totalTimeoutMs: 200, func: (ctx: TaskContext) => { starts.push(`a#${ctx.attempt}`); return Promise.reject(httpError(503)); } },
      { id: 'b', func: () => { starts.push('b'); return new Promise((r) => setTimeout(r, 1_500)); } },
    ]);
    await advance(200);
    expect(d.getResult('a')).toMatchObject({ status: 'timeout', attempts: 1, error: 'task "a" timed out after 200 ms in total (totalTimeoutMs), over 1 attempt(s)' });
    await advance(2_000);
    await pending;
    expect(starts).toEqual(['a#1', 'b']);
  });

  test('a retry that starts again leaves no total-timeout timer behind', async () => {
    const d = new Dispatcher({ totalTimeoutMs: 60_000, retry: { retries: 1, minDelayMs: 10, jitter: 'none' } });
    const pending = d.dispatch([{ id: 'a', func: (ctx: TaskContext) => (ctx.attempt === 1 ? Promise.reject(httpError(503)) : 'ok') }]);
    await advance(20);
    expect((await pending)[0]).toMatchObject({ status: 'done', attempts: 2 });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('an attempt cut by totalTimeoutMs says so', async () => {
    const d = new Dispatcher({ timeoutMs: 1_000, totalTimeoutMs: 400 });
    const [[r]] = await Promise.all([d.dispatch([{ id: 'a', func: untilAborted }]), advance(400)]);
    expect(r?.error).toBe('task "a" timed out after 400 ms in total (totalTimeoutMs), over 1 attempt(s)');
  });

  test('increaseAfter counts successes in a row: another failure starts the count again', async () => {
    const d = new Dispatcher({ maxWorkers: 4, adaptive: { decrease: 0.5, increaseAfter: 3 } });
    await d.dispatch([{ id: 'x', func: () => Promise.reject(httpError(429)) }]);
    expect(d.currentLimit).toBe(2);
    const run = (id: string, fail: boolean) => d.dispatch([{ id, func: () => (fail ? Promise.reject(httpError(500)) : 1) }]);
    await run('s1', false);
    await run('s2', false);
    await run('f', true);
    await run('s3', false);
    expect(d.currentLimit).toBe(2);
    await run('s4', false);
    await run('s5', false);
    expect(d.currentLimit).toBe(3);
  });

  test('adaptive.max above maxWorkers is refused; a Retry-After of "-3" is no Retry-After', () => {
    expect(() => new Dispatcher({ maxWorkers: 4, adaptive: { max: 8 } })).toThrow(
      'Expected `adaptive.max` to be an integer from adaptive.min (1) to maxWorkers (4), got 8 (number)',
    );
    expect(retryAfterMs({ headers: new Headers({ 'retry-after': '-3' }) })).toBeUndefined();
  });
});

describe('rate limits, budgets and deadlines', () => {
  test('a big task whose turn it is is not starved by cheaper tasks of another key on a shared token bucket', async () => {
    // 61,000 tokens a minute: 1 token/ms, 1000 in the bucket.
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { tokensPerMinute: 61_000 } });
    const t0 = Date.now();
    const starts: [string, number][] = [];
    const task = (id: string, key: string, cost: number) => ({ id, key, cost, func: () => { starts.push([id, Date.now() - t0]); } });
    const cheap = d.dispatch(Array.from({ length: 40 }, (_, i) => task(`b${i}`, 'b', 100)));
    await advance(500);
    // The bucket is drained by b's stream; a big call of another key arrives.
    const big = d.dispatch([task('big', 'a', 900)]);
    await advance(10_000);
    await Promise.all([cheap, big]);
    const bigAt = starts.find(([id]) => id === 'big')?.[1] as number;
    // b's task already waiting for the bucket keeps its turn (600 ms); then it is big's, and b waits while
    // the bucket refills the 900 it needs. Before the fix, b's cheaper tasks took every refill for ever.
    expect(starts.filter(([id, at]) => id.startsWith('b') && at > 500 && at < bigAt).map(([, at]) => at)).toEqual([600]);
    expect(bigAt).toBe(1_500);
  });

  test('a deadline function that throws mid-run ends the work with a clear error instead of hanging', async () => {
    let reads = 0;
    const d = new Dispatcher({
      maxWorkers: 1,
      deadline: () => {
        if (++reads > 3) {
          throw new Error('context gone');
        }
        return 60_000;
      },
    });
    const pending = d.dispatch(Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, func: () => new Promise((r) => setTimeout(r, 10)) })));
    await advance(1_000);
    const results = await pending;
    expect(results.map((r) => r.status)).toContain('cancelled');
    expect(results.find((r) => r.status === 'cancelled')?.error).toMatch(/the deadline could not be read \(deadline\(\) gave an error: context gone\)/);
  });

  test('the tokens budget counts the estimates of running tasks', async () => {
    const d = new Dispatcher({ maxWorkers: 10, budget: { tokens: 100 } });
    let ran = 0;
    const results = d.dispatch(
      Array.from({ length: 10 }, (_, i) => ({
        id: `t${i}`,
        cost: 40,
        func: async (ctx: TaskContext) => {
          ran++;
          await new Promise((r) => setTimeout(r, 10));
          ctx.reportUsage({ totalTokens: 40 });
        },
      })),
    );
    await advance(100);
    expect((await results).filter((r) => r.status === 'done')).toHaveLength(3);
    expect(ran).toBe(3);
  });

  test('a task that spends the budget itself ends at once instead of waiting out its backoff', async () => {
    const d = new Dispatcher({ budget: { requests: 1 }, retry: { retries: 3, minDelayMs: 5_000 } });
    const pending = d.dispatch([{ id: 'a', func: () => Promise.reject(httpError(503)) }]);
    await advance(0);
    const [r] = await pending;
    expect(r).toMatchObject({ status: 'cancelled', attempts: 1, attemptErrors: ['HTTP 503'] });
    expect(r?.error).toBe('task "a" was cancelled: budget exhausted (requests: 1 used of 1)');
  });

  test('a retry whose wait runs past the deadline is not made: the task ends at once', async () => {
    const d = new Dispatcher({ deadline: Date.now() + 1_000, retry: { retries: 3, minDelayMs: 5_000 } });
    const pending = d.dispatch([{ id: 'a', func: () => Promise.reject(httpError(503)) }]);
    await advance(0);
    expect((await pending)[0]).toMatchObject({ status: 'failed', attempts: 1, error: 'HTTP 503' });
  });

  test('requestsPerSecond keeps most of its rate: a burst of at most a tenth of a second', async () => {
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { requestsPerSecond: 10 } });
    const t0 = Date.now();
    const starts: number[] = [];
    const pending = d.dispatch(Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, func: () => { starts.push(Date.now() - t0); } })));
    await advance(3_000);
    await pending;
    // A burst of 1, then 9 a second (10 − 1 for the burst, so no second holds more than 10).
    const inFirstSecond = starts.filter((at) => at < 1_000).length;
    expect(inFirstSecond).toBeGreaterThanOrEqual(9);
    expect(inFirstSecond).toBeLessThanOrEqual(10);
  });
});

describe('streams, events and stats', () => {
  test('a duck-typed signal without removeEventListener is fine, in dispatch and in stream', async () => {
    const d = new Dispatcher();
    const signal = { aborted: false, reason: undefined, addEventListener() {} } as unknown as AbortSignal;
    const results = await d.dispatch([{ id: 'a', func: () => 1 }], { signal });
    expect(results[0]?.status).toBe('done');
    const seen: string[] = [];
    for await (const r of d.stream([{ id: 'b', func: () => 2 }], { signal })) {
      seen.push(r.taskId);
    }
    expect(seen).toEqual(['b']);
  });

  test('next() called again before the last one settled: every pull is answered, in order', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const s = d.stream([{ id: 'a', func: () => 'A' }, { id: 'b', func: () => 'B' }]);
    const pulls = [s.next(), s.next(), s.next()];
    await advance(0);
    const steps = await Promise.all(pulls);
    expect(steps.map((step) => (step.done ? 'done' : step.value.taskId))).toEqual(['a', 'b', 'done']);
  });

  test('stream items keep the non-enumerable cause of a failure', async () => {
    const d = new Dispatcher();
    const boom = new RangeError('boom');
    for await (const r of d.stream([{ id: 'a', func: () => Promise.reject(boom) }])) {
      expect(r.success).toBe(false);
      expect((r as { cause?: unknown }).cause).toBe(boom);
      expect(Object.keys(r)).not.toContain('cause');
    }
  });

  test('a stream never read lets go of the caller\'s signal once its tasks are done', async () => {
    const d = new Dispatcher();
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    d.stream([{ id: 'a', func: () => 1 }], { signal: controller.signal });
    expect(listeners.count()).toBe(1);
    await advance(0);
    expect(listeners.count()).toBe(0);
  });

  test('throughputPerMinute counts the last minute even past 1024 tasks', async () => {
    const d = new Dispatcher({ maxWorkers: 64 });
    await Promise.all([d.dispatch(Array.from({ length: 2_000 }, (_, i) => ({ id: `t${i}`, func: () => new Promise((r) => setTimeout(r, 1)) }))), advance(100)]);
    expect(d.stats().throughputPerMinute).toBe(2_000);
    await advance(61_000);
    expect(d.stats().throughputPerMinute).toBe(0);
  });

  test('on() refuses a listener that is not a function', () => {
    expect(() => new Dispatcher().on('start', 'notfn' as never)).toThrow('Expected `listener` to be a function, got string');
  });
});

describe('found by the property test', () => {
  test('a timed-out attempt that finishes late, inside its grace, cannot settle the retry running meanwhile', async () => {
    // Counterexample: one task, latency 9 ms, timeoutMs 5, one retry, abortGraceMs 5, two workers.
    const d = new Dispatcher({ maxWorkers: 2, timeoutMs: 5, abortGraceMs: 5, retry: { retries: 1, minDelayMs: 3, jitter: 'none' } });
    const pending = d.dispatch([{ id: 't0', func: () => new Promise((resolve) => setTimeout(() => resolve('late'), 9)) }]);
    await advance(100);
    // Attempt 1 timed out at 5 ms and finished at 9, while attempt 2 (from 8 ms) was running: both time out.
    expect((await pending)[0]).toMatchObject({ status: 'timeout', attempts: 2 });
  });
});

describe('batches read from an iterable', () => {
  // Found by the property test: tasks read after shutdown(false) were started.
  test('shutdown(false) stops reading the iterable and closes it: no task is read or started after it', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const started: string[] = [];
    let read = 0;
    let closed = false;
    function* tasks(): Generator<TaskLike> {
      try {
        for (let i = 0; i < 100; i++) {
          read++;
          yield { id: `t${i}`, func: (ctx: TaskContext) => (started.push(`t${i}`), untilAborted(ctx)) };
        }
      } finally {
        closed = true;
      }
    }
    const results = d.dispatch(tasks());
    await flush();
    const readBefore = read;
    await d.shutdown(false);
    await advance(1_000);
    expect(started).toEqual(['t0']);
    expect(closed).toBe(true);
    expect(read).toBe(readBefore);
    const all = await results;
    expect(all.length).toBe(readBefore);
    expect(all.every((r) => r.status === 'cancelled')).toBe(true);
  });

  test('a task an async iterable brings after shutdown(false) is not run', async () => {
    // Counterexample: an async generator that takes 5 ms to make its first task, and shutdown(false) at 0 ms.
    const d = new Dispatcher();
    let started = false;
    async function* tasks(): AsyncGenerator<TaskLike> {
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield { id: 'late', func: () => { started = true; } };
    }
    const results = d.dispatch(tasks());
    await d.shutdown(false);
    await advance(10);
    expect(started).toBe(false);
    await expect(results).resolves.toEqual([]);
  });

  test('dispatchParallel over items whose iterable throws rejects with its error, not a task failure', async () => {
    const echo = dispatchParallel({ maxWorkers: 2 })((n: number) => new Promise((resolve) => setTimeout(() => resolve(n), 10)));
    const broken = new Error('the source broke');
    function* items(): Generator<number> {
      yield 1;
      yield 2;
      throw broken;
    }
    await expect(echo(items())).rejects.toBe(broken);
  });

  test('a generator that aborts its run while making a task: that task is not run, and the generator is closed', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const controller = new AbortController();
    const ran: string[] = [];
    let closed = false;
    function* tasks(): Generator<TaskLike> {
      try {
        yield { id: 'a', func: () => ran.push('a') };
        controller.abort(new Error('enough'));
        yield { id: 'b', func: () => ran.push('b') };
      } finally {
        closed = true;
      }
    }
    const results = await d.dispatch(tasks(), { signal: controller.signal });
    await flush();
    expect(ran).toEqual([]);
    expect(closed).toBe(true);
    expect(results.map((r) => `${r.taskId}:${r.status}`)).toEqual(['a:cancelled']);
  });
});
