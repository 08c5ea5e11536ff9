import { describe, expect, test } from '@jest/globals';
import { Dispatcher } from '../src/index.js';

// The few tests on the real clock: each asserts a window with wide slack, never a tight bound.
const sleep = (ms: number, { signal }: { signal: AbortSignal }) =>
  new Promise<number>((resolve, reject) => {
    const timer = setTimeout(resolve, ms, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

describe('on the real clock', () => {
  test('8 tasks of 100 ms at 4 workers take about two rounds', async () => {
    const d = new Dispatcher({ maxWorkers: 4 });
    const started = performance.now();
    const results = await d.dispatch(Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, func: sleep, args: [100] })));
    const elapsed = performance.now() - started;
    expect(results.every((r) => r.success)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(1_500);
  });

  test('a timeout aborts a cooperative task near its deadline', async () => {
    const d = new Dispatcher({ timeoutMs: 50 });
    const started = performance.now();
    const [r] = await d.dispatch([{ id: 'slow', func: sleep, args: [5_000] }]);
    const elapsed = performance.now() - started;
    expect(r?.status).toBe('timeout');
    expect(r?.durationMs).toBeGreaterThanOrEqual(49);
    expect(elapsed).toBeLessThan(1_500);
    await d.shutdown();
  });
});
