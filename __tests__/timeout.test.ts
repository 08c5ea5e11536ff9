import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, type DispatchResult } from '../src/index.js';
import { advance, deferred, flush, untilAborted } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});


describe('shared timeout lists', () => {
  test('attempts with the same timeoutMs share one timer, and each still ends exactly at its own time', async () => {
    const d = new Dispatcher({ maxWorkers: 100, timeoutMs: 50, abortGraceMs: 1 });
    const results = d.dispatch(
      Array.from({ length: 100 }, (_, i) => ({
        id: `t${i}`,
        // Starts spread over 10 ms: each attempt is due at its own start + 50 ms.
        func: (ctx: { signal: AbortSignal }) => new Promise((resolve) => setTimeout(resolve, i % 10)).then(() => untilAborted(ctx)),
      })),
    );
    await flush();
    // The hundred tasks' own 0-9 ms waits, and one timer for all their timeouts.
    expect(jest.getTimerCount()).toBe(101);
    await advance(60);
    const all = await results;
    expect(all.every((r) => r.status === 'timeout' && r.durationMs === 50)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a task\'s own timeoutMs gets a list of its own, and a total timeout cutting an attempt short a timer of its own', async () => {
    const d = new Dispatcher({ maxWorkers: 3, timeoutMs: 100, abortGraceMs: 1 });
    const results = d.dispatch([
      { id: 'default', func: untilAborted },
      { id: 'own', timeoutMs: 30, func: untilAborted },
      { id: 'total', totalTimeoutMs: 20, func: untilAborted },
    ]);
    await flush();
    expect(jest.getTimerCount()).toBe(3);
    await advance(100);
    expect((await results).map((r) => [r.taskId, r.status, r.durationMs])).toEqual([
      ['default', 'timeout', 100],
      ['own', 'timeout', 30],
      ['total', 'timeout', 20],
    ]);
  });

  test('an idle dispatcher holds no timeout timer, though its list outlives the work', async () => {
    const d = new Dispatcher({ timeoutMs: 1_000 });
    await d.dispatch([{ id: 'quick', func: () => 1 }]);
    expect(jest.getTimerCount()).toBe(0);
    const late = d.dispatch([{ id: 'slow', func: untilAborted }]);
    await advance(1_000);
    expect((await late)[0]?.status).toBe('timeout');
  });
});

describe('timeouts', () => {
  test('a task past its timeout is recorded as timed out at that moment, with its signal aborted', async () => {
    const d = new Dispatcher({ timeoutMs: 50 });
    let signal: AbortSignal | undefined;
    const pending = d.dispatch([{ id: 'slow', func: (ctx) => { signal = ctx.signal; return untilAborted(ctx); } }]);
    await advance(49);
    expect(d.getResult('slow')).toBeUndefined();
    expect(signal?.aborted).toBe(false);
    await advance(1);
    const [result] = await pending;
    expect(result).toMatchObject({ taskId: 'slow', success: false, status: 'timeout', error: 'task "slow" timed out after 50 ms' });
    expect(result?.durationMs).toBe(50);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(DOMException);
    expect((signal?.reason as DOMException).name).toBe('TimeoutError');
    expect((result as { cause: unknown }).cause).toBe(signal?.reason);
  });

  test('the timeout counts from the start, not from when the task was queued', async () => {
    const d = new Dispatcher({ maxWorkers: 1, timeoutMs: 100 });
    const first = deferred();
    const results = d.dispatch([
      { id: 'first', func: () => first.promise },
      { id: 'second', func: () => new Promise((resolve) => setTimeout(resolve, 90, 'ok')) },
    ]);
    await advance(80);
    first.resolve();
    await advance(95);
    const [, second] = await results;
    expect(second?.status).toBe('done');
    expect(second?.durationMs).toBe(90);
  });

  test("a task's own timeoutMs overrides the dispatcher's", async () => {
    const d = new Dispatcher({ timeoutMs: 1_000 });
    const pending = d.dispatch([
      { id: 'short', func: untilAborted, timeoutMs: 10 },
      { id: 'default', func: untilAborted },
    ]);
    await advance(10);
    expect(d.getResult('short')?.status).toBe('timeout');
    expect(d.getResult('default')).toBeUndefined();
    await advance(990);
    const results = await pending;
    expect(results.map((r) => r.error)).toEqual([
      'task "short" timed out after 10 ms',
      'task "default" timed out after 1000 ms',
    ]);
  });

  test('Infinity means no timeout and no timer', async () => {
    const d = new Dispatcher({ timeoutMs: Infinity });
    const gate = deferred<string>();
    const pending = d.dispatch([{ id: 'a', func: () => gate.promise }]);
    await flush();
    expect(jest.getTimerCount()).toBe(0);
    await advance(1e9);
    expect(d.getResult('a')).toBeUndefined();
    gate.resolve('late but fine');
    expect((await pending)[0]?.result).toBe('late but fine');
  });

  test('a timeout beyond what a timer can hold is capped instead of firing at once (real timers)', async () => {
    // Node fires a timer of more than 2^31-1 ms after 1 ms; fake timers would not show it.
    jest.useRealTimers();
    const d = new Dispatcher({ timeoutMs: 3e9 });
    const [result] = await d.dispatch([{ id: 'long', func: () => new Promise((resolve) => setTimeout(resolve, 30, 'ok')) }]);
    expect(result?.status).toBe('done');
  });

  test('a cooperative task keeps its slot until it settles, so concurrency never exceeds the cap', async () => {
    const d = new Dispatcher({ maxWorkers: 1, timeoutMs: 50, abortGraceMs: 1_000 });
    let running = 0;
    let peak = 0;
    // Like a fetch: it settles 20 ms after its signal aborts (a socket closing).
    const cooperative = ({ signal }: { signal: AbortSignal }) =>
      new Promise((_, reject) => {
        running++;
        peak = Math.max(peak, running);
        signal.addEventListener('abort', () => setTimeout(() => { running--; reject(signal.reason); }, 20));
      });
    const pending = d.dispatch([
      { id: 'a', func: cooperative },
      { id: 'b', func: cooperative },
    ]);
    await advance(50);
    expect(d.getResult('a')?.status).toBe('timeout');
    expect(d.activeCount).toBe(1);
    expect(d.pendingCount).toBe(1);
    await advance(19);
    expect(running).toBe(1);
    await advance(1);
    expect(d.pendingCount).toBe(0);
    await advance(70);
    await pending;
    expect(peak).toBe(1);
  });

  test('a task that ignores its signal is abandoned after abortGraceMs and its late value discarded', async () => {
    const d = new Dispatcher({ maxWorkers: 1, timeoutMs: 50, abortGraceMs: 200 });
    const stubborn = deferred<string>();
    const next = deferred<string>();
    const pending = d.dispatch([
      { id: 'stubborn', func: () => stubborn.promise },
      { id: 'next', func: () => next.promise },
    ]);
    await advance(50);
    expect(d.getResult('stubborn')?.status).toBe('timeout');
    expect(d.activeCount).toBe(1);
    await advance(199);
    expect(d.pendingCount).toBe(1);
    await advance(1);
    expect(d.pendingCount).toBe(0);
    stubborn.resolve('too late');
    next.resolve('next');
    const results = await pending;
    expect(results.map((r) => [r.status, r.result])).toEqual([['timeout', null], ['done', 'next']]);
    expect(d.getResult('stubborn')?.status).toBe('timeout');
  });

  test('a task that settles after its timeout within the grace frees its slot at once', async () => {
    const d = new Dispatcher({ maxWorkers: 1, timeoutMs: 10, abortGraceMs: 1_000 });
    const slow = deferred<string>();
    const pending = d.dispatch([
      { id: 'slow', func: () => slow.promise },
      { id: 'after', func: () => 'after' },
    ]);
    await advance(10);
    slow.reject(new Error('aborted late'));
    await flush();
    const results = await pending;
    expect(results.map((r) => r.status)).toEqual(['timeout', 'done']);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('an idle dispatcher holds no timer: every timeout and grace timer is cleared', async () => {
    const d = new Dispatcher({ timeoutMs: 5_000, abortGraceMs: 5_000 });
    const results: DispatchResult[] = await d.dispatch([
      { id: 'fast', func: async () => 1 },
      { id: 'fails', func: async () => { throw new Error('x'); } },
    ]);
    expect(results.map((r) => r.status)).toEqual(['done', 'failed']);
    expect(jest.getTimerCount()).toBe(0);
    const pending = d.dispatch([{ id: 'aborts', func: untilAborted, timeoutMs: 10 }]);
    await advance(10);
    await pending;
    await flush();
    expect(jest.getTimerCount()).toBe(0);
  });
});
