import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { deferred, flush } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

const tooMany = () => Object.assign(new Error('Too Many Requests'), { status: 429 });

describe('adaptive concurrency', () => {
  test('off by default: currentLimit is maxWorkers and follows it', () => {
    const d = new Dispatcher({ maxWorkers: 7 });
    expect(d.currentLimit).toBe(7);
    d.maxWorkers = 3;
    expect(d.currentLimit).toBe(3);
  });

  test('starts at max (maxWorkers by default), cuts by `decrease` on a 429 and never below min', async () => {
    const d = new Dispatcher({ maxWorkers: 10, adaptive: { decrease: 0.5, min: 3 } });
    const limits: unknown[] = [];
    d.on('limit', (e) => limits.push(e));
    expect(d.currentLimit).toBe(10);
    await d.dispatch([{ id: 'a', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(5);
    await d.dispatch([{ id: 'b', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(3);
    await d.dispatch([{ id: 'c', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(3);
    expect(limits).toEqual([
      { limit: 5, previous: 10 },
      { limit: 3, previous: 5 },
    ]);
  });

  test('503s and per-attempt timeouts cut too; other failures do not', async () => {
    const d = new Dispatcher({ maxWorkers: 100, timeoutMs: 10, adaptive: true });
    await d.dispatch([{ id: 'a', func: () => Promise.reject(Object.assign(new Error('x'), { status: 500 })) }]);
    expect(d.currentLimit).toBe(100);
    await d.dispatch([{ id: 'b', func: () => Promise.reject(Object.assign(new Error('x'), { status: 503 })) }]);
    expect(d.currentLimit).toBe(90);
    const slow = d.dispatch([{ id: 'c', func: (ctx: TaskContext) => new Promise((r) => ctx.signal.addEventListener('abort', r)) }]);
    await jest.advanceTimersByTimeAsync(10);
    await slow;
    expect(d.currentLimit).toBe(81);
  });

  test('a run of increaseAfter successes raises the limit by one, up to max', async () => {
    const d = new Dispatcher({ maxWorkers: 4, adaptive: { decrease: 0.5, increaseAfter: 3 } });
    await d.dispatch([{ id: 'x', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(2);
    const ok = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `ok${i}`, func: async () => i }));
    await d.dispatch(ok(2));
    expect(d.currentLimit).toBe(2);
    await d.dispatch(ok(1));
    expect(d.currentLimit).toBe(3);
    await d.dispatch(ok(30));
    expect(d.currentLimit).toBe(4);
  });

  test('a burst of 429s from requests sent at the old limit makes one cut, not one per rejection', async () => {
    const d = new Dispatcher({ maxWorkers: 20, adaptive: { decrease: 0.5 } });
    const gate = deferred();
    const results = d.dispatch(
      Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, func: async () => { await gate.promise; throw tooMany(); } })),
    );
    await flush();
    gate.resolve();
    await results;
    // All 20 were sent before the first cut, which answered them all.
    expect(d.currentLimit).toBe(10);
    await d.dispatch([{ id: 'after', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(5);
  });

  test('it drives p-limit: no more tasks run at once than currentLimit', async () => {
    const d = new Dispatcher({ maxWorkers: 8, adaptive: { decrease: 0.5 } });
    await d.dispatch([{ id: 'x', func: () => Promise.reject(tooMany()) }]);
    expect(d.currentLimit).toBe(4);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 10 }, () => deferred());
    const pending = d.dispatch(
      gates.map((g, i) => ({ id: `t${i}`, func: async () => { running++; peak = Math.max(peak, running); await g.promise; running--; } })),
    );
    await flush();
    expect(running).toBe(4);
    gates.forEach((g) => g.resolve());
    await pending;
    expect(peak).toBe(4);
  });

  test('maxWorkers set at run time becomes the adaptive max', async () => {
    const d = new Dispatcher({ maxWorkers: 10, adaptive: true });
    d.maxWorkers = 6;
    expect(d.maxWorkers).toBe(6);
    expect(d.currentLimit).toBe(6);
  });

  test('a min above maxWorkers names adaptive.min as out of range, whatever max says', () => {
    expect(() => new Dispatcher({ adaptive: { min: 10, max: 4 } })).toThrow(
      new RangeError('Expected `adaptive.min` to be an integer from 1 to maxWorkers (4), got 10 (number)'),
    );
    expect(() => new Dispatcher({ maxWorkers: 8, adaptive: { min: 10 } })).toThrow('Expected `adaptive.min` to be an integer from 1 to maxWorkers (8)');
  });

  test('a max below a valid min names adaptive.max, with the range it must be in', () => {
    expect(() => new Dispatcher({ maxWorkers: 8, adaptive: { min: 6, max: 4 } })).toThrow(
      new RangeError('Expected `adaptive.max` to be an integer from adaptive.min (6) to maxWorkers (8), got 4 (number)'),
    );
  });

  test.each([
    [{ decrease: 1 }, RangeError, 'adaptive.decrease'],
    [{ decrease: 0 }, RangeError, 'adaptive.decrease'],
    [{ min: 0 }, RangeError, 'adaptive.min'],
    [{ min: 5, max: 4 }, RangeError, 'Expected `adaptive.min` to be an integer from 1 to maxWorkers (4), got 5'],
    [{ min: 3, max: 2 }, RangeError, 'Expected `adaptive.max` to be an integer from adaptive.min (3) to maxWorkers (4), got 2'],
    [{ increaseAfter: 1.5 }, RangeError, 'adaptive.increaseAfter'],
    [{ step: 1 }, TypeError, 'adaptive.step'],
    ['yes', TypeError, 'adaptive'],
  ])('bad adaptive %p is a %p naming %p', (adaptive, Kind, name) => {
    expect(() => new Dispatcher({ adaptive: adaptive as never })).toThrow(Kind);
    expect(() => new Dispatcher({ adaptive: adaptive as never })).toThrow(name);
  });
});
