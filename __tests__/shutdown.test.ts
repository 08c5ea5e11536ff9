import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, ShutdownError } from '../src/index.js';
import { deferred, flush, untilAborted } from './helpers.js';

afterEach(() => {
  jest.useRealTimers();
});

describe('shutdown(true)', () => {
  test('finishes everything queued and running, then resolves', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const gate = deferred<string>();
    d.submit({ id: 'running', func: () => gate.promise });
    d.submit({ id: 'queued', func: () => 'q' });
    let done = false;
    const closing = d.shutdown().then(() => { done = true; });
    await flush();
    expect(done).toBe(false);
    gate.resolve('r');
    await closing;
    expect(d.getResult('running')?.result).toBe('r');
    expect(d.getResult('queued')?.result).toBe('q');
    expect(d.activeCount + d.pendingCount).toBe(0);
  });

  test('refuses new work at once: submit and dispatchNowait throw, dispatch rejects', async () => {
    const d = new Dispatcher();
    await d.shutdown();
    const task = { id: 'late', func: () => 1 };
    expect(() => d.submit(task)).toThrow(ShutdownError);
    expect(() => d.submit(task)).toThrow('The dispatcher is shut down');
    expect(() => d.dispatchNowait([task])).toThrow(ShutdownError);
    await expect(d.dispatch([task])).rejects.toThrow(ShutdownError);
  });

  test('is idempotent and resolves at once when idle', async () => {
    const d = new Dispatcher();
    await d.shutdown();
    await d.shutdown();
    await expect(d.shutdown(true)).resolves.toBeUndefined();
  });

  test('await using shuts the dispatcher down, waiting for its tasks', async () => {
    const finished: string[] = [];
    let escaped: Dispatcher | undefined;
    {
      await using d = new Dispatcher();
      escaped = d;
      d.submit({ id: 'bg', func: async () => { await flush(); finished.push('bg'); } });
    }
    expect(finished).toEqual(['bg']);
    expect(() => escaped?.submit({ id: 'x', func: () => 1 })).toThrow(ShutdownError);
  });
});

describe('shutdown(false)', () => {
  test('cancels queued tasks without starting them and aborts running ones with an AbortError', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const started: string[] = [];
    let reason: unknown;
    d.submit({ id: 'running', func: (ctx) => { started.push('running'); ctx.signal.addEventListener('abort', () => { reason = ctx.signal.reason; }); return untilAborted(ctx); } });
    d.submit({ id: 'queued', func: () => { started.push('queued'); } });
    await flush();
    await d.shutdown(false);
    expect(started).toEqual(['running']);
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('AbortError');
    expect(d.getResult('running')).toMatchObject({ status: 'cancelled', success: false });
    expect(d.getResult('running')?.error).toMatch(/^task "running" was cancelled: /);
    expect(d.getResult('queued')).toMatchObject({ status: 'cancelled', durationMs: 0 });
    expect(d.activeCount + d.pendingCount).toBe(0);
  });

  test('a dispatch in flight still resolves, with every task accounted for', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const pending = d.dispatch(['a', 'b', 'c', 'd'].map((id) => ({ id, func: untilAborted })));
    await flush();
    await d.shutdown(false);
    const results = await pending;
    expect(results.map((r) => r.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(results.map((r) => r.durationMs === 0)).toEqual([false, false, true, true]);
  });

  test('resolves after abortGraceMs when a running task ignores its signal', async () => {
    jest.useFakeTimers();
    const d = new Dispatcher({ abortGraceMs: 300 });
    const stubborn = deferred();
    d.submit({ id: 'stubborn', func: () => stubborn.promise });
    await flush();
    let closed = false;
    void d.shutdown(false).then(() => { closed = true; });
    await flush();
    expect(d.getResult('stubborn')?.status).toBe('cancelled');
    expect(d.activeCount).toBe(1);
    await jest.advanceTimersByTimeAsync(299);
    expect(closed).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(closed).toBe(true);
    expect(d.activeCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('after shutdown(true), escalates: what is left is cancelled', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    d.submit({ id: 'running', func: untilAborted });
    d.submit({ id: 'queued', func: () => 'q' });
    const graceful = d.shutdown(true);
    await flush();
    await d.shutdown(false);
    await graceful;
    expect(d.getResult('running')?.status).toBe('cancelled');
    expect(d.getResult('queued')?.status).toBe('cancelled');
  });

  test('rejects a wait flag that is not a boolean, as a rejection rather than a throw', async () => {
    const d = new Dispatcher();
    await expect(d.shutdown('no' as never)).rejects.toThrow('Expected `wait` to be a boolean, got "no" (string)');
    // Nothing was shut down.
    expect(d.submit({ id: 'still-open', func: () => 1 })).toBe('still-open');
  });
});
