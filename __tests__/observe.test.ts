import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, type DispatchProgress, type StreamResult, type TaskContext } from '../src/index.js';
import { advance, deferred, flush, untilAborted } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});


/** A task that takes `ms` of fake time and returns its id. */
const after = (id: string, ms: number) => ({ id, func: () => new Promise<string>((resolve) => setTimeout(() => resolve(id), ms)) });

describe('stream', () => {
  test('yields each result as it finishes, with its input index; tasks start at the call', async () => {
    const d = new Dispatcher({ maxWorkers: 3 });
    const started: string[] = [];
    d.on('start', (e) => started.push(e.taskId));
    const stream = d.stream([after('slow', 300), after('fast', 100), after('mid', 200)]);
    await flush();
    expect(started).toEqual(['slow', 'fast', 'mid']);
    const seen: [string, number, number][] = [];
    const reading = (async () => {
      for await (const r of stream) {
        seen.push([r.taskId, r.index, Date.now()]);
      }
    })();
    const t0 = Date.now();
    await advance(300);
    await reading;
    expect(seen.map(([id, index, at]) => [id, index, at - t0])).toEqual([
      ['fast', 1, 100],
      ['mid', 2, 200],
      ['slow', 0, 300],
    ]);
  });

  test('break cancels what has not finished: queued tasks never start, running ones are aborted, finished ones are not', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const signals = new Map<string, AbortSignal>();
    const ran: string[] = [];
    const task = (id: string, ms: number) => ({
      id,
      func: (ctx: TaskContext) => {
        ran.push(id);
        signals.set(id, ctx.signal);
        return ms === Infinity ? untilAborted(ctx) : new Promise((r) => setTimeout(r, ms));
      },
    });
    const stream = d.stream([task('first', 10), task('hanging', Infinity), task('queued', 10)]);
    const got: string[] = [];
    const reading = (async () => {
      for await (const r of stream) {
        got.push(r.taskId);
        break;
      }
    })();
    await advance(10);
    await reading;
    expect(got).toEqual(['first']);
    // 'queued' had taken first's slot at once; it is aborted like 'hanging'; 'first' finished and is left alone.
    expect(signals.get('first')?.aborted).toBe(false);
    expect(signals.get('hanging')?.aborted).toBe(true);
    expect(d.getResult('hanging')?.status).toBe('cancelled');
    await advance(2_000);
    expect(d.activeCount + d.pendingCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('break before a queued task starts: it never runs', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const ran: string[] = [];
    const gate = deferred();
    const stream = d.stream([
      { id: 'a', func: () => { ran.push('a'); return 'a'; } },
      { id: 'b', func: async () => { ran.push('b'); await gate.promise; } },
      { id: 'c', func: () => { ran.push('c'); } },
    ]);
    for await (const r of stream) {
      expect(r.taskId).toBe('a');
      break;
    }
    gate.resolve();
    await advance(0);
    expect(ran).toEqual(['a', 'b']);
    expect(d.getResult('c')).toMatchObject({ status: 'cancelled', attempts: 0 });
  });

  test('an aborted signal cancels the rest, and the stream still yields every result, then ends', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const controller = new AbortController();
    const stream = d.stream([after('a', 10), { id: 'b', func: untilAborted }, after('c', 10)], { signal: controller.signal });
    const got: StreamResult[] = [];
    const reading = (async () => {
      for await (const r of stream) {
        got.push(r);
        if (r.taskId === 'a') {
          controller.abort(new Error('enough'));
        }
      }
    })();
    await advance(10);
    await advance(0);
    await reading;
    expect(got.map((r) => [r.taskId, r.index, r.status])).toEqual([
      ['a', 0, 'done'],
      ['b', 1, 'cancelled'],
      ['c', 2, 'cancelled'],
    ]);
  });

  test('each item is its task\'s result, field for field, with its index', async () => {
    const d = new Dispatcher();
    const boom = new Error('boom');
    const items: StreamResult[] = [];
    for await (const r of d.stream([{ id: 'ok', func: () => 1 }, { id: 'bad', func: () => Promise.reject(boom) }])) {
      items.push(r);
    }
    for (const item of items) {
      const result = d.getResult(item.taskId);
      expect(JSON.stringify(item)).toBe(JSON.stringify({ ...result, index: item.taskId === 'ok' ? 0 : 1 }));
    }
    expect(items.find((r) => r.taskId === 'bad')).toMatchObject({ success: false, status: 'failed', error: 'boom', attemptErrors: ['boom'] });
  });

  test('bad input throws at once', () => {
    const d = new Dispatcher();
    expect(() => d.stream('x' as never)).toThrow(TypeError);
    expect(() => d.stream([], { sig: 1 } as never)).toThrow('Unknown option `options.sig`');
  });
});

describe('onProgress', () => {
  test('after each result of the batch: done, failed, running, total', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const progress: DispatchProgress[] = [];
    const pending = d.dispatch(
      [after('a', 10), { id: 'b', func: () => Promise.reject(new Error('no')) }, after('c', 30), after('d', 20)],
      { onProgress: (p) => progress.push(p) },
    );
    await advance(100);
    await pending;
    expect(progress).toEqual([
      { done: 0, failed: 1, running: 1, total: 4 },
      { done: 1, failed: 1, running: 1, total: 4 },
      { done: 2, failed: 1, running: 1, total: 4 },
      { done: 3, failed: 1, running: 0, total: 4 },
    ]);
  });

  test('a throwing onProgress breaks nothing', async () => {
    const d = new Dispatcher();
    const results = await d.dispatch([{ id: 'a', func: () => 1 }], { onProgress: () => { throw new Error('bug'); } });
    expect(results[0]?.status).toBe('done');
  });
});

describe('events, onIdle, onEmpty', () => {
  test('a listener that throws before others breaks neither the dispatch nor them', async () => {
    const d = new Dispatcher();
    const seen: string[] = [];
    d.on('settle', () => { throw new Error('listener bug'); });
    d.on('settle', (r) => seen.push(r.taskId));
    const results = await d.dispatch([{ id: 'a', func: () => 1 }, { id: 'b', func: () => 2 }]);
    expect(results.map((r) => r.status)).toEqual(['done', 'done']);
    expect(seen).toEqual(['a', 'b']);
  });

  test('on() returns the unsubscribe function; an unknown name is a TypeError', async () => {
    const d = new Dispatcher();
    const seen: string[] = [];
    const off = d.on('start', (e) => seen.push(e.taskId));
    await d.dispatch([{ id: 'a', func: () => 1 }]);
    off();
    await d.dispatch([{ id: 'b', func: () => 1 }]);
    expect(seen).toEqual(['a']);
    expect(() => d.on('finish' as never, () => {})).toThrow(TypeError);
  });

  test('every event in order for a task that retries', async () => {
    const d = new Dispatcher({ retry: { retries: 1, minDelayMs: 10, jitter: 'none' } });
    const log: string[] = [];
    for (const name of ['start', 'settle', 'retry', 'idle'] as const) {
      d.on(name, () => log.push(name));
    }
    const pending = d.dispatch([{ id: 'a', func: (ctx: TaskContext) => (ctx.attempt === 1 ? Promise.reject(Object.assign(new Error('x'), { status: 500 })) : 1) }]);
    await advance(100);
    await pending;
    expect(log).toEqual(['start', 'retry', 'start', 'settle', 'idle']);
  });

  test('onEmpty when nothing is queued; onIdle when no slot is held, a timed-out task\'s grace included', async () => {
    const d = new Dispatcher({ maxWorkers: 1, timeoutMs: 50, abortGraceMs: 100 });
    let empty = -1;
    let idle = -1;
    const t0 = Date.now();
    // 'stubborn' ignores its signal: it holds its slot through the grace.
    d.submit({ id: 'stubborn', func: () => new Promise(() => {}) });
    d.submit({ id: 'next', func: () => 'ok' });
    void d.onEmpty().then(() => { empty = Date.now() - t0; });
    void d.onIdle().then(() => { idle = Date.now() - t0; });
    await advance(0);
    expect([empty, idle]).toEqual([-1, -1]);
    await advance(150);
    expect(empty).toBe(150);
    expect(idle).toBe(150);
    await expect(d.onIdle()).resolves.toBeUndefined();
    await expect(d.onEmpty()).resolves.toBeUndefined();
  });
});

describe('stats', () => {
  test('counts by outcome, slots held, retries, the limit, throughput and percentiles', async () => {
    const d = new Dispatcher({ maxWorkers: 3, timeoutMs: 1_000, retry: { retries: 1, minDelayMs: 1, jitter: 'none' } });
    expect(d.stats()).toEqual({
      queued: 0, running: 0, done: 0, failed: 0, timedOut: 0, cancelled: 0, retries: 0, limit: 3,
      throughputPerMinute: 0, p50: 0, p95: 0, p99: 0,
    });
    const controller = new AbortController();
    const pending = d.dispatch(
      [
        ...Array.from({ length: 10 }, (_, i) => after(`ok${i}`, (i + 1) * 10)),
        { id: 'bad', func: () => Promise.reject(new Error('final')) },
        { id: 'flaky', func: (ctx: TaskContext) => (ctx.attempt === 1 ? Promise.reject(Object.assign(new Error('x'), { status: 503 })) : 'ok') },
        { id: 'slow', func: untilAborted, timeoutMs: 20 },
        { id: 'cancelled', func: untilAborted },
      ],
      { signal: controller.signal },
    );
    await advance(0);
    const during = d.stats();
    expect(during.running).toBe(3);
    expect(during.queued).toBeGreaterThan(0);
    await advance(900);
    controller.abort();
    await advance(2_000);
    await pending;
    const s = d.stats();
    expect(s).toMatchObject({ queued: 0, running: 0, done: 11, failed: 1, timedOut: 1, cancelled: 1, retries: 2, limit: 3 });
    // Retries: flaky once, and slow once (a per-attempt timeout is retried) before it timed out for good.
    // Every one of the 14 ran, and ended within the last minute.
    expect(s.throughputPerMinute).toBe(14);
    await advance(61_000);
    expect(d.stats().throughputPerMinute).toBe(0);
    expect(s.p50).toBeGreaterThan(0);
    expect(s.p50).toBeLessThanOrEqual(s.p95);
    expect(s.p95).toBeLessThanOrEqual(s.p99);
  });

  test('durationMs and the stats percentiles are rounded to 0.01 ms', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    // Each task moves the clock by a fraction while it runs: the duration is that fraction plus float noise.
    const takes = (ms: number, fails = false) => () => {
      jest.advanceTimersByTime(ms);
      if (fails) {
        throw new Error('no');
      }
      return ms;
    };
    const [done, failed] = await d.dispatch([
      { id: 'done', func: takes(360.039614) },
      { id: 'failed', func: takes(2.718281, true) },
    ]);
    expect(done?.durationMs).toBe(360.04);
    expect(failed?.durationMs).toBe(2.72);
    const s = d.stats();
    expect([s.p50, s.p95, s.p99]).toEqual([2.72, 360.04, 360.04]);
  });

  test('percentiles are over the last 1024 tasks that ran: constant memory', async () => {
    const d = new Dispatcher({ maxWorkers: 64 });
    // 2000 tasks of 1 ms, then 1024 of 5 ms: only the latter count.
    await Promise.all([d.dispatch(Array.from({ length: 2_000 }, (_, i) => after(`a${i}`, 1))), advance(100)]);
    await Promise.all([d.dispatch(Array.from({ length: 1_024 }, (_, i) => after(`b${i}`, 5))), advance(200)]);
    const s = d.stats();
    expect([s.p50, s.p95, s.p99]).toEqual([5, 5, 5]);
  });
});
