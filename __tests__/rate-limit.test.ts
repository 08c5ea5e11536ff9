import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { Bucket } from '../src/policies/bucket.js';
import { advance, deferred, flush, untilAborted } from './helpers.js';

beforeEach(() => {
  jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
});

afterEach(() => {
  jest.useRealTimers();
});


/** Tasks that note when they start (fake ms since the test began) and finish at once. */
function recorder() {
  const t0 = Date.now();
  const starts: [string, number][] = [];
  const task = (id: string, extra: object = {}) => ({
    id,
    func: (ctx: TaskContext) => {
      starts.push([id, Date.now() - t0]);
      return `done ${ctx.taskId}`;
    },
    ...extra,
  });
  return { starts, task };
}

describe('Bucket', () => {
  test('starts full, refills continuously up to its capacity, and can go into debt', () => {
    const b = new Bucket(0.01, 5, 0);
    expect(b.level(0)).toBe(5);
    expect(b.waitMs(5, 0)).toBe(0);
    b.take(5, 0);
    expect(b.waitMs(1, 0)).toBe(100);
    expect(b.level(50)).toBeCloseTo(0.5);
    expect(b.level(10_000)).toBe(5);
    // A cost above the capacity waits for a full bucket, then leaves it in debt.
    b.take(2, 10_000);
    expect(b.waitMs(20, 10_000)).toBe(200);
    b.take(20, 10_200);
    expect(b.level(10_200)).toBe(-15);
    expect(b.waitMs(1, 10_200)).toBe(1_600);
    b.take(-100, 10_200);
    expect(b.level(10_200)).toBe(5);
  });
});

describe('request limits', () => {
  test('requestsPerMinute: a burst of burstMs worth, then an even pace (no window-edge bursts)', async () => {
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { requestsPerMinute: 610 } });
    const { starts, task } = recorder();
    const pending = d.dispatch(Array.from({ length: 14 }, (_, i) => task(`t${i}`)));
    await advance(0);
    // A bucket refills at limit / (60 s + burstMs) so that no 60 s window, burst included, holds more
    // than the limit: 610/min refills one per 100 ms, holds 1000 ms of that (10), and starts full.
    expect(starts.map(([, at]) => at)).toEqual(Array(10).fill(0));
    await advance(1_000);
    await pending;
    expect(starts.slice(10).map(([, at]) => at)).toEqual([100, 200, 300, 400]);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('at least one request of burst, however low the rate', async () => {
    const d = new Dispatcher({ rateLimit: { requestsPerMinute: 2 } });
    const { starts, task } = recorder();
    const pending = d.dispatch([task('a'), task('b'), task('c')]);
    await advance(130_000);
    await pending;
    // A burst of one, and one more a minute: never more than 2 in any 60 s.
    expect(starts).toEqual([['a', 0], ['b', 60_000], ['c', 120_000]]);
  });

  test('requestsPerSecond and requestsPerMinute together: the stricter one paces', async () => {
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { requestsPerSecond: 5, requestsPerMinute: 121, burstMs: 200 } });
    const { starts, task } = recorder();
    const pending = d.dispatch(Array.from({ length: 4 }, (_, i) => task(`t${i}`)));
    await advance(2_000);
    await pending;
    // 5/s allows one per 250 ms with a burst of 1; 121/min one per 500 ms with a burst of 1.
    expect(starts.map(([, at]) => at)).toEqual([0, 500, 1_000, 1_500]);
  });

  test('each attempt, retries included, takes a request token', async () => {
    const d = new Dispatcher({ rateLimit: { requestsPerMinute: 61 }, retry: { retries: 2, minDelayMs: 1, jitter: 'none' } });
    const starts: number[] = [];
    const t0 = Date.now();
    const pending = d.dispatch([
      {
        id: 'flaky',
        func: (ctx: TaskContext) => {
          starts.push(Date.now() - t0);
          return ctx.attempt < 3 ? Promise.reject(Object.assign(new Error('busy'), { status: 503 })) : 'ok';
        },
      },
    ]);
    await advance(5_000);
    expect((await pending)[0]).toMatchObject({ status: 'done', attempts: 3 });
    expect(starts).toEqual([0, 1_000, 2_000]);
  });
});

describe('token limits and cost', () => {
  test('cost is reserved at start: tokensPerMinute paces by tokens', async () => {
    // 61,000 tokens/min refills 1 token/ms (limit / 61 s); the bucket holds 1000 tokens.
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { tokensPerMinute: 61_000 } });
    const { starts, task } = recorder();
    const pending = d.dispatch(Array.from({ length: 4 }, (_, i) => task(`t${i}`, { cost: 500 })));
    await advance(2_000);
    await pending;
    expect(starts.map(([, at]) => at)).toEqual([0, 0, 500, 1_000]);
  });

  test('a cost above the bucket starts when it is full and leaves it in debt: slowed, never stuck', async () => {
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { tokensPerMinute: 61_000 } });
    const { starts, task } = recorder();
    const pending = d.dispatch([task('big', { cost: 3_000 }), task('small', { cost: 500 })]);
    await advance(5_000);
    await pending;
    expect(starts).toEqual([['big', 0], ['small', 2_500]]);
  });

  test('a cost above the whole per-minute limit fails at once, naming the cost and the limit', async () => {
    const d = new Dispatcher({ rateLimit: { tokensPerMinute: 10_000 } });
    const { starts, task } = recorder();
    const results = await d.dispatch([task('huge', { cost: 20_000 }), task('fine', { cost: 10 })]);
    expect(results[0]).toMatchObject({ status: 'failed', attempts: 0, durationMs: 0 });
    expect(results[0]?.error).toBe(
      'task "huge" cannot run: its cost of 20000 tokens is more than the whole per-minute token limit (rateLimit.tokensPerMinute: 10000)',
    );
    expect(results[1]?.status).toBe('done');
    expect(starts).toEqual([['fine', 0]]);
  });

  test('cost may be a function of the task', async () => {
    const d = new Dispatcher({ maxWorkers: 100, rateLimit: { tokensPerMinute: 61_000 } });
    const { starts, task } = recorder();
    const byLength = (t: { args?: readonly unknown[] }) => String(t.args?.[0]).length * 100;
    const t0 = Date.now();
    const seen: [string, number][] = [];
    const func = (text: string) => {
      seen.push([text, Date.now() - t0]);
    };
    const pending = d.dispatch([
      { id: 'long', func, args: ['xxxxxxxx'], cost: byLength },
      { id: 'short', func, args: ['xx'], cost: byLength },
      { id: 'third', func, args: ['xxxx'], cost: byLength },
    ]);
    await advance(2_000);
    await pending;
    // 800 then 200 tokens of the 1000-token bucket at once; the third's 400 waits 400 ms for the refill.
    expect(seen).toEqual([['xxxxxxxx', 0], ['xx', 0], ['xxxx', 400]]);
    expect(starts).toEqual([]);
  });

  test('usage reported by ctx.reportUsage corrects the reservation: over-estimates are refunded', async () => {
    const d = new Dispatcher({ maxWorkers: 1, rateLimit: { tokensPerMinute: 61_000 } });
    const t0 = Date.now();
    const starts: number[] = [];
    const pending = d.dispatch(
      Array.from({ length: 3 }, (_, i) => ({
        id: `t${i}`,
        cost: 1_000,
        func: (ctx: TaskContext) => {
          starts.push(Date.now() - t0);
          ctx.reportUsage({ totalTokens: 100 });
        },
      })),
    );
    await advance(3_000);
    await pending;
    // Without the refund each would wait 1000 ms for the bucket; with it, 100 ms.
    expect(starts).toEqual([0, 100, 200]);
  });

  test('the default usageOf reads the OpenAI shape; under-estimates are charged', async () => {
    const d = new Dispatcher({ maxWorkers: 1, rateLimit: { tokensPerMinute: 61_000 } });
    const t0 = Date.now();
    const starts: number[] = [];
    const completion = { choices: [], usage: { prompt_tokens: 900, completion_tokens: 100, total_tokens: 1_000 } };
    const pending = d.dispatch(
      Array.from({ length: 3 }, (_, i) => ({
        id: `t${i}`,
        cost: 10,
        func: async () => {
          starts.push(Date.now() - t0);
          return completion;
        },
      })),
    );
    await advance(5_000);
    await pending;
    // Each charged 1000 in the end: the next starts when 10 tokens are back after the debt.
    expect(starts).toEqual([0, 10, 1_010]);
  });

  test('a custom usageOf replaces the default', async () => {
    const d = new Dispatcher({ maxWorkers: 1, rateLimit: { tokensPerMinute: 61_000 }, usageOf: (r) => ({ totalTokens: (r as { n: number }).n }) });
    const t0 = Date.now();
    const starts: number[] = [];
    const pending = d.dispatch(
      Array.from({ length: 2 }, (_, i) => ({ id: `t${i}`, cost: 1_000, func: () => { starts.push(Date.now() - t0); return { n: 0 }; } })),
    );
    await advance(2_000);
    await pending;
    expect(starts).toEqual([0, 0]);
  });

  test('reportUsage validates what it is given', async () => {
    const d = new Dispatcher();
    const [r] = await d.dispatch([{ id: 'bad', func: (ctx: TaskContext) => ctx.reportUsage({ totalTokens: -1 }) }]);
    expect(r?.status).toBe('failed');
    expect(r?.error).toBe('Expected `usage.totalTokens` to be a number ≥ 0, got -1 (number)');
  });
});

describe('keys', () => {
  test('keys with queued work take equal turns, whatever their queue lengths', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const { starts, task } = recorder();
    const tasks = [
      ...Array.from({ length: 10 }, (_, i) => task(`a${i}`, { key: 'tenant-a' })),
      ...Array.from({ length: 3 }, (_, i) => task(`b${i}`, { key: 'tenant-b' })),
      task('none'),
    ];
    await d.dispatch(tasks);
    expect(starts.map(([id]) => id)).toEqual(['a0', 'b0', 'none', 'a1', 'b1', 'a2', 'b2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
  });

  test('priority still applies within a key', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const { starts, task } = recorder();
    await d.dispatch([
      task('a-low', { key: 'a' }),
      task('a-high', { key: 'a', priority: 5 }),
      task('b-low', { key: 'b' }),
      task('b-high', { key: 'b', priority: 9 }),
    ]);
    expect(starts.map(([id]) => id)).toEqual(['a-high', 'b-high', 'a-low', 'b-low']);
  });

  test('a key\'s own limit slows that key only; the global limit applies to all', async () => {
    const d = new Dispatcher({
      maxWorkers: 100,
      rateLimit: { requestsPerMinute: 6_100, byKey: { slow: { requestsPerMinute: 61 } } },
    });
    const { starts, task } = recorder();
    const pending = d.dispatch([
      ...Array.from({ length: 3 }, (_, i) => task(`s${i}`, { key: 'slow' })),
      ...Array.from({ length: 3 }, (_, i) => task(`f${i}`, { key: 'fast' })),
    ]);
    await advance(5_000);
    await pending;
    expect(starts.filter(([id]) => id.startsWith('f')).map(([, at]) => at)).toEqual([0, 0, 0]);
    expect(starts.filter(([id]) => id.startsWith('s')).map(([, at]) => at)).toEqual([0, 1_000, 2_000]);
  });

  test('per-key token limits refuse a cost above them', async () => {
    const d = new Dispatcher({ rateLimit: { byKey: { small: { tokensPerMinute: 100 } } } });
    const [r] = await d.dispatch([{ id: 'x', key: 'small', cost: 500, func: () => 1 }]);
    expect(r?.error).toContain('(rateLimit.byKey["small"].tokensPerMinute: 100)');
  });
});

describe('budgets', () => {
  test('requests: once spent, queued tasks end as cancelled and nothing new starts; dispatch still resolves', async () => {
    const d = new Dispatcher({ maxWorkers: 1, budget: { requests: 3 } });
    const { starts, task } = recorder();
    const results = await d.dispatch(Array.from({ length: 5 }, (_, i) => task(`t${i}`)));
    expect(results.map((r) => r.status)).toEqual(['done', 'done', 'done', 'cancelled', 'cancelled']);
    expect(results[3]?.error).toBe('task "t3" was cancelled: budget exhausted (requests: 3 used of 3)');
    expect(starts).toHaveLength(3);
    const [late] = await d.dispatch([task('late')]);
    expect(late?.status).toBe('cancelled');
  });

  test('tokens count reported usage, else the estimate; running tasks go on', async () => {
    const d = new Dispatcher({ maxWorkers: 2, budget: { tokens: 100 } });
    const gate = deferred();
    const results = d.dispatch([
      { id: 'reported', cost: 10, func: (ctx: TaskContext) => ctx.reportUsage({ totalTokens: 60 }) },
      { id: 'running', cost: 10, func: () => gate.promise },
      { id: 'estimated', cost: 50, func: () => 'no usage' },
      { id: 'queued', cost: 1, func: () => 'never' },
    ]);
    await advance(0);
    gate.resolve();
    expect((await results).map((r) => [r.taskId, r.status])).toEqual([
      ['reported', 'done'],
      ['running', 'done'],
      ['estimated', 'done'],
      ['queued', 'cancelled'],
    ]);
  });

  test('spend through spendOf', async () => {
    const d = new Dispatcher({ maxWorkers: 1, budget: { spend: 0.02, spendOf: (u) => u.totalTokens * 0.00001 } });
    const results = await d.dispatch(
      Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, func: (ctx: TaskContext) => ctx.reportUsage({ totalTokens: 1_000 }) })),
    );
    expect(results.map((r) => r.status)).toEqual(['done', 'done', 'cancelled', 'cancelled']);
    expect(results[2]?.error).toMatch(/budget exhausted \(spend: 0\.02\d* used of 0\.02\)/);
  });

  test('spend without spendOf is a TypeError', () => {
    expect(() => new Dispatcher({ budget: { spend: 5 } })).toThrow(TypeError);
    expect(() => new Dispatcher({ budget: { spend: 5 } })).toThrow('budget.spendOf');
  });
});

describe('deadlines', () => {
  test('at deadline − margin, running tasks are aborted and queued ones cancelled; dispatch returns every result in order', async () => {
    const d = new Dispatcher({ maxWorkers: 2, deadline: Date.now() + 1_000, safetyMarginMs: 100 });
    const signals: AbortSignal[] = [];
    const t0 = Date.now();
    let resolvedAt = -1;
    const pending = d
      .dispatch(
        Array.from({ length: 5 }, (_, i) => ({
          id: `t${i}`,
          func: (ctx: TaskContext) => {
            signals.push(ctx.signal);
            return i === 0 ? 'quick' : untilAborted(ctx);
          },
        })),
      )
      .then((results) => {
        resolvedAt = Date.now() - t0;
        return results;
      });
    await advance(899);
    expect(resolvedAt).toBe(-1);
    await advance(1);
    const results = await pending;
    expect(resolvedAt).toBe(900);
    expect(results.map((r) => r.status)).toEqual(['done', 'cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(results[1]?.error).toBe('task "t1" was cancelled: the deadline has come (deadline − safetyMarginMs)');
    expect(results.map((r) => r.attempts)).toEqual([1, 1, 1, 0, 0]);
    expect(signals.slice(1).every((s) => s.aborted)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a duration where epoch milliseconds are meant is a RangeError that says to pass Date.now() + ms or a function', () => {
    const make = () => new Dispatcher({ deadline: 25_000 });
    expect(make).toThrow(RangeError);
    expect(make).toThrow(
      'Expected `deadline` to be epoch milliseconds (a time, not a duration: pass `Date.now() + 25000` or a function returning the milliseconds left), got 25000 (number)',
    );
    expect(() => new Dispatcher({ deadline: new Date(25_000) })).toThrow('pass `Date.now() + 25000`');
  });

  test('a Date works, and a task\'s timeout is cut to fit the time left', async () => {
    const d = new Dispatcher({ timeoutMs: 10_000, deadline: new Date(Date.now() + 500), safetyMarginMs: 50 });
    const [r] = await Promise.all([d.dispatch([{ id: 'slow', func: untilAborted }]), advance(450)]);
    expect(r[0]).toMatchObject({ status: 'cancelled', durationMs: 450 });
  });

  test('a function deadline is read at each decision (AWS Lambda\'s getRemainingTimeInMillis plugs in)', async () => {
    const ends = Date.now() + 1_000;
    const getRemainingTimeInMillis = jest.fn(() => ends - Date.now());
    const d = new Dispatcher({ maxWorkers: 1, deadline: getRemainingTimeInMillis, safetyMarginMs: 100 });
    const { starts, task } = recorder();
    const slow = (id: string) => ({ id, func: () => new Promise((r) => setTimeout(r, 600)) });
    const pending = d.dispatch([task('a'), slow('b'), slow('c'), task('d')]);
    await advance(2_000);
    const results = await pending;
    expect(results.map((r) => r.status)).toEqual(['done', 'done', 'cancelled', 'cancelled']);
    expect(starts.map(([id]) => id)).toEqual(['a']);
    expect(getRemainingTimeInMillis.mock.calls.length).toBeGreaterThan(2);
  });

  test('tasks that cannot start in time end as cancelled without running', async () => {
    const d = new Dispatcher({ deadline: Date.now() + 50, safetyMarginMs: 100 });
    const { starts, task } = recorder();
    const results = await d.dispatch([task('a'), task('b')]);
    expect(results.map((r) => [r.status, r.attempts])).toEqual([['cancelled', 0], ['cancelled', 0]]);
    expect(starts).toEqual([]);
  });
});

describe('validation', () => {
  test.each([
    [{ rateLimit: { requestsPerMinute: 0 } }, RangeError, 'Expected `rateLimit.requestsPerMinute` to be a number > 0, got 0 (number)'],
    [{ rateLimit: { tokensPerMinute: '5' } }, TypeError, 'Expected `rateLimit.tokensPerMinute` to be a number > 0, got "5" (string)'],
    [{ rateLimit: { burstMs: -1 } }, RangeError, 'Expected `rateLimit.burstMs` to be a number > 0, got -1 (number)'],
    [{ rateLimit: { rpm: 5 } }, TypeError, 'Unknown option `rateLimit.rpm`'],
    [{ rateLimit: { byKey: { a: { requestsPerSecond: 1 } } } }, TypeError, 'Unknown option `rateLimit.byKey["a"].requestsPerSecond`'],
    [{ rateLimit: { byKey: { a: { tokensPerMinute: -5 } } } }, RangeError, 'Expected `rateLimit.byKey["a"].tokensPerMinute` to be'],
    [{ budget: { tokens: -1 } }, RangeError, 'Expected `budget.tokens` to be a number ≥ 0, got -1 (number)'],
    [{ budget: { money: 1 } }, TypeError, 'Unknown option `budget.money`'],
    [{ deadline: 'soon' }, TypeError, 'Expected `deadline` to be epoch milliseconds'],
    [{ deadline: new Date('nope') }, RangeError, 'Expected `deadline` to be epoch milliseconds'],
    [{ deadline: () => 'x' }, TypeError, 'Expected `deadline()` to be a number of milliseconds left'],
    [{ safetyMarginMs: -1 }, RangeError, 'Expected `safetyMarginMs` to be a number ≥ 0, got -1 (number)'],
    [{ usageOf: 5 }, TypeError, 'Expected `usageOf` to be a function, got 5 (number)'],
  ])('%p → %p', (options, Kind, message) => {
    expect(() => new Dispatcher(options as never)).toThrow(Kind);
    expect(() => new Dispatcher(options as never)).toThrow(message);
  });

  test('task key and cost are checked before anything runs', async () => {
    const d = new Dispatcher();
    await expect(d.dispatch([{ id: 'a', func: () => 1, key: 5 as never }])).rejects.toThrow('Expected `tasks[0].key` to be a string, got 5 (number)');
    await expect(d.dispatch([{ id: 'a', func: () => 1, cost: -3 }])).rejects.toThrow('Expected `tasks[0].cost` to be a finite number ≥ 0');
    await expect(d.dispatch([{ id: 'a', func: () => 1, cost: () => Number.NaN }])).rejects.toThrow('Expected `tasks[0].cost()` to be');
    expect(d.pendingCount).toBe(0);
  });
});
