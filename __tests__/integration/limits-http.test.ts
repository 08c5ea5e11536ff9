import { afterEach, describe, expect, test } from '@jest/globals';
import { measureLimits } from '../../bench/limits.mjs';
import { Dispatcher, type TaskContext } from '../../src/index.js';
import { type MockLlm, startMockLlm } from '../../src/testing/index.js';

// Rate limits, fairness and deadlines against the mock server over real HTTP. Loose sanity checks of
// the benchmark's claims (BENCHMARKS.md has the measured figures); real time, generous bounds.
const servers: MockLlm[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

const call = (server: MockLlm) => async (content: string, { signal }: TaskContext) => {
  const response = await fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content }], max_tokens: 8 }),
    signal,
  });
  const body = (await response.json()) as { error?: { message: string } };
  if (!response.ok) {
    throw Object.assign(new Error(body.error?.message ?? 'HTTP error'), { status: response.status });
  }
  return body;
};

describe('rate limits over real HTTP, in scaled time', () => {
  test('told the server\'s own limits, duta stays under them and uses most of them', async () => {
    // At 20x time, a millisecond of the event loop's jitter is 20 ms of rate-limit time: the benchmark, at 5x,
    // is where zero 429s is claimed; here a handful is tolerated.
    const r = await measureLimits({ Dispatcher, startMockLlm }, { scale: 20, windows: 2 });
    expect(r.tooMany).toBeLessThanOrEqual(10);
    expect(r.throughput).toBeGreaterThanOrEqual(0.85);
    expect(r.throughput).toBeLessThanOrEqual(1.02);
  }, 30_000);

  test('with cost estimates 2x too high, the corrections still let most of the token limit through', async () => {
    const r = await measureLimits({ Dispatcher, startMockLlm }, { scale: 20, windows: 2, overEstimate: 2 });
    expect(r.tooMany).toBeLessThanOrEqual(10);
    expect(r.tokenShare).toBeGreaterThanOrEqual(0.8);
  }, 30_000);
});

describe('fairness and deadlines over real HTTP', () => {
  test('two keys, one with 10x the queued work: they alternate while both have work', async () => {
    const server = await startMockLlm({ latencyMs: 10 });
    servers.push(server);
    const d = new Dispatcher({ maxWorkers: 2 });
    const order: string[] = [];
    d.on('start', (e) => order.push(e.taskId.slice(0, 1)));
    const func = call(server);
    const results = await d.dispatch([
      ...Array.from({ length: 40 }, (_, i) => ({ id: `a${i}`, key: 'big', func, args: [`a${i}`] as const })),
      ...Array.from({ length: 4 }, (_, i) => ({ id: `b${i}`, key: 'small', func, args: [`b${i}`] as const })),
    ]);
    expect(results.every((r) => r.success)).toBe(true);
    expect(order.slice(0, 8).join('')).toBe('abababab');
    expect(order.slice(8).every((k) => k === 'a')).toBe(true);
    expect(server.stats().byStatus).toEqual({ 200: 44 });
  });

  test('a dispatch of long tasks with a 300 ms deadline returns by then, with every result', async () => {
    const server = await startMockLlm({ latencyMs: 5_000 });
    servers.push(server);
    const d = new Dispatcher({ maxWorkers: 4, deadline: Date.now() + 300, safetyMarginMs: 50 });
    const started = performance.now();
    const func = call(server);
    const results = await d.dispatch(Array.from({ length: 10 }, (_, i) => ({ id: `t${i}`, func, args: [`t${i}`] as const })));
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(240);
    expect(took).toBeLessThanOrEqual(300 + 150);
    expect(results.map((r) => r.taskId)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(results.every((r) => r.status === 'cancelled')).toBe(true);
    expect(results.filter((r) => r.attempts === 1)).toHaveLength(4);
  });
});
