import { afterEach, describe, expect, test } from '@jest/globals';
import { measureLimits } from '../../bench/limits.mjs';
import { Dispatcher, type TaskContext } from '../../src/index.js';
import { type MockLlm, startMockLlm } from '../../src/testing/index.js';

// Rate limits, fairness and deadlines against the mock server over real HTTP: what must hold under any
// load, with generous bounds on the real clock. The benchmark's figures are measured by `npm run bench`.
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
  // Only what holds however loaded the machine is. duta's own starts are checked against the limits on its
  // own clock, exactly. The server's 429s are only bounded: at 10x time a millisecond of event-loop lag
  // between a start and the request's arrival is 10 ms of rate-limit time, so a loaded machine earns a few
  // (the benchmark, at 5x and alone, is where zero is claimed). The share of the limit used is bounded
  // loosely; its figures (98 % of the limit, 95 % with estimates 2x too high) are `npm run bench` targets.
  const requestsPerMinute = 300;
  const tokensPerMinute = 12_000;
  const options = { scale: 10, windows: 2, requestsPerMinute, tokensPerMinute };

  const accountedFor = (r: Awaited<ReturnType<typeof measureLimits>>): void => {
    expect(r.results).toBe(r.tasks);
    const { done = 0, cancelled = 0, failed = 0, timeout = 0 } = r.byStatus;
    expect(done + cancelled + failed + timeout).toBe(r.tasks);
    // Nothing is retried here, so a task fails only on a 429.
    expect(failed).toBeLessThanOrEqual(r.tooMany);
    expect(done).toBeGreaterThan(0);
  };

  test('told the server\'s own limits, duta starts no more than them in any minute and accounts for every task', async () => {
    const r = await measureLimits({ Dispatcher, startMockLlm }, options);
    // One start of slack for the moment between a start's admission and its event.
    expect(r.busiestMinute.requests).toBeLessThanOrEqual(requestsPerMinute + 1);
    expect(r.busiestMinute.tokens).toBeLessThanOrEqual(tokensPerMinute + 100);
    expect(r.tooMany).toBeLessThanOrEqual(0.05 * r.requests);
    accountedFor(r);
    expect(r.throughput).toBeLessThanOrEqual(1.02);
    // Wide slack: a stalled limiter would be far below this.
    expect(r.throughput).toBeGreaterThanOrEqual(0.5);
  }, 30_000);

  test('with cost estimates 2x too high, the usage corrections let through more tokens than the estimates alone would', async () => {
    const r = await measureLimits({ Dispatcher, startMockLlm }, { ...options, windows: 1, overEstimate: 2 });
    expect(r.busiestMinute.requests).toBeLessThanOrEqual(requestsPerMinute + 1);
    expect(r.tooMany).toBeLessThanOrEqual(0.05 * r.requests);
    accountedFor(r);
    expect(r.tokenShare).toBeLessThanOrEqual(1.02);
    // Uncorrected, each task would hold twice its tokens and at most half the limit would be used.
    expect(r.tokenShare).toBeGreaterThan(0.5);
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
    // By the deadline, give or take a loaded event loop: far short of the 5 s the tasks would take.
    expect(took).toBeLessThanOrEqual(300 + 700);
    expect(results.map((r) => r.taskId)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
    expect(results.every((r) => r.status === 'cancelled')).toBe(true);
    expect(results.filter((r) => r.attempts === 1)).toHaveLength(4);
  });
});
