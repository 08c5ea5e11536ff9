import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { advance, countListeners, deferred, flush, untilAborted } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('cancel(id)', () => {
  test('a queued task ends as cancelled at once, never starting, and the call says there was one', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const gate = deferred();
    d.submit({ id: 'busy', func: () => gate.promise });
    let started = false;
    d.submit({ id: 'queued', func: () => { started = true; } });
    expect(d.cancel('queued', 'changed my mind')).toBe(true);
    expect(d.getResult('queued')).toMatchObject({ status: 'cancelled', attempts: 0, error: 'task "queued" was cancelled: changed my mind' });
    gate.resolve();
    await d.onIdle();
    expect(started).toBe(false);
  });

  test('a running task has its signal aborted and ends as cancelled; its slot is held until it stops', async () => {
    const d = new Dispatcher({ maxWorkers: 1, abortGraceMs: 1_000 });
    let signal: AbortSignal | undefined;
    const stopped = deferred();
    d.submit({
      id: 'running',
      func: (ctx: TaskContext) => {
        signal = ctx.signal;
        return stopped.promise;
      },
    });
    await flush();
    expect(d.cancel('running')).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as DOMException).name).toBe('AbortError');
    expect(d.getResult('running')).toMatchObject({ status: 'cancelled', error: 'task "running" was cancelled: The task was cancelled' });
    // The function has not stopped yet: it still holds its slot.
    expect(d.activeCount).toBe(1);
    stopped.resolve();
    await flush();
    expect(d.activeCount).toBe(0);
  });

  test('a task waiting to retry ends as cancelled without another attempt', async () => {
    const d = new Dispatcher({ retry: { retries: 3, minDelayMs: 1_000, jitter: 'none' } });
    let attempts = 0;
    d.submit({ id: 'flaky', func: () => { attempts++; throw Object.assign(new Error('busy'), { status: 503 }); } });
    await flush();
    expect(d.pendingCount).toBe(1);
    expect(d.cancel('flaky')).toBe(true);
    await advance(5_000);
    expect(attempts).toBe(1);
    expect(d.getResult('flaky')).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(jest.getTimerCount()).toBe(0);
  });

  test('an unknown or finished id has nothing to cancel, and works for a task of a dispatch batch too', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    expect(d.cancel('nobody')).toBe(false);
    const gate = deferred();
    const results = d.dispatch([
      { id: 'first', func: () => gate.promise },
      { id: 'second', func: () => 2 },
    ]);
    await flush();
    expect(d.cancel('second')).toBe(true);
    gate.resolve();
    expect((await results).map((r) => r.status)).toEqual(['done', 'cancelled']);
    expect(d.cancel('first')).toBe(false);
    expect(() => d.cancel(42 as never)).toThrow(new TypeError('Expected `id` to be a string, got 42 (number)'));
  });
});

describe('a task\'s own signal', () => {
  test('aborting it cancels that task only, in a batch as in a submit, and its listener is removed when the task ends', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const gate = deferred();
    const results = d.dispatch([
      { id: 'a', func: () => gate.promise },
      { id: 'b', func: () => 'b', signal: controller.signal },
      { id: 'c', func: () => 'c' },
    ]);
    const submitted = d.submit({ id: 's', func: () => 's', signal: controller.signal });
    await flush();
    expect(listeners.count()).toBe(2);
    controller.abort(new Error('user left'));
    gate.resolve();
    expect((await results).map((r) => [r.taskId, r.status])).toEqual([['a', 'done'], ['b', 'cancelled'], ['c', 'done']]);
    expect(await d.waitFor(submitted)).toMatchObject({ status: 'cancelled', error: 'task "s" was cancelled: user left' });
    expect(listeners.count()).toBe(0);
  });

  test('an already-aborted signal cancels the task before it starts', async () => {
    const d = new Dispatcher();
    let ran = false;
    const id = d.submit({ id: 'late', func: () => { ran = true; }, signal: AbortSignal.abort('too late') });
    expect(d.getResult(id)).toMatchObject({ status: 'cancelled', attempts: 0 });
    await flush();
    expect(ran).toBe(false);
  });

  test('a task that ends before its signal aborts leaves no listener behind', async () => {
    const d = new Dispatcher();
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    await d.dispatch([{ id: 'quick', func: () => 1, signal: controller.signal }]);
    expect(listeners.count()).toBe(0);
  });

  test('a signal that is not one is refused, naming the field', () => {
    expect(() => new Dispatcher().submit({ id: 'x', func: () => 1, signal: 'stop' as never })).toThrow(
      new TypeError('Expected `task.signal` to be an AbortSignal, got "stop" (string)'),
    );
  });
});

describe('clear()', () => {
  test('cancels every queued and waiting task, leaves running ones alone, and keeps the dispatcher open', async () => {
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 2, minDelayMs: 1_000, jitter: 'none' } });
    const gate = deferred();
    const results = d.dispatch([
      { id: 'flaky', func: () => { throw Object.assign(new Error('busy'), { status: 503 }); } },
      { id: 'running', func: () => gate.promise },
      { id: 'queued', func: () => 'q' },
    ]);
    await flush();
    // flaky waits to retry, running runs, queued waits for the slot.
    expect(d.clear()).toBe(2);
    expect(d.pendingCount).toBe(0);
    gate.resolve();
    expect((await results).map((r) => [r.taskId, r.status])).toEqual([['flaky', 'cancelled'], ['running', 'done'], ['queued', 'cancelled']]);
    expect((await d.dispatch([{ id: 'after', func: () => 1 }]))[0]?.status).toBe('done');
    expect(d.clear()).toBe(0);
  });
});

describe('onSizeLessThan(n)', () => {
  test('resolves when fewer than n tasks are queued or waiting, at once if there are already', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    await expect(d.onSizeLessThan(1)).resolves.toBeUndefined();
    const gates = Array.from({ length: 4 }, () => deferred());
    gates.forEach((gate, i) => d.submit({ id: `t${i}`, func: () => gate.promise }));
    await flush();
    // One runs, three are queued.
    let below3 = false;
    let below1 = false;
    void d.onSizeLessThan(3).then(() => { below3 = true; });
    void d.onSizeLessThan(1).then(() => { below1 = true; });
    await flush();
    expect([below3, below1]).toEqual([false, false]);
    gates[0]?.resolve();
    await flush();
    expect([below3, below1]).toEqual([true, false]);
    d.clear();
    await flush();
    expect(below1).toBe(true);
  });

  test('n must be a number above 0', async () => {
    await expect(new Dispatcher().onSizeLessThan(0)).rejects.toThrow(new RangeError('Expected `n` to be a number > 0, got 0 (number)'));
    await expect(new Dispatcher().onSizeLessThan('2' as never)).rejects.toThrow(TypeError);
  });

  test('a producer that waits for room keeps the queue bounded', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    let most = 0;
    const produce = async () => {
      for (let i = 0; i < 50; i++) {
        await d.onSizeLessThan(5);
        d.submit({ id: `p${i}`, func: () => new Promise((resolve) => setTimeout(resolve, 10)) });
        most = Math.max(most, d.pendingCount);
      }
    };
    const producing = produce();
    for (let i = 0; i < 40; i++) {
      await advance(10);
    }
    await producing;
    await advance(100);
    await d.onIdle();
    expect(most).toBeLessThanOrEqual(5);
    expect(d.results.size).toBe(50);
  });
});

describe('cancel(id) and the grace', () => {
  test('a cancelled running task that ignores its signal still frees its slot after the grace', async () => {
    const d = new Dispatcher({ maxWorkers: 1, abortGraceMs: 50 });
    d.submit({ id: 'stubborn', func: () => new Promise(() => {}) });
    d.submit({ id: 'next', func: untilAborted });
    await flush();
    d.cancel('stubborn');
    await advance(50);
    expect(d.activeCount).toBe(1);
    expect(d.cancel('next')).toBe(true);
  });
});
