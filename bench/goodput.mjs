// Goodput against the mock server over real HTTP: a dispatcher told the server's concurrency cap K
// exactly, against one with `maxWorkers` far above K and `adaptive: true`. The classes are passed in, so
// the benchmark runs the built package and the sanity test in the suite runs the sources.

/**
 * Runs `n` chat requests through each dispatcher in turn (`rounds` times, alternating) against a server
 * that answers 429 beyond `k` requests in flight, and returns the median goodput of each and the share
 * of requests answered 429 after warm-up (the first `warmup` share of the run's time).
 */
export async function measureGoodput({ Dispatcher, startMockLlm }, { k = 8, n = 600, latencyMs = 50, maxWorkers = 64, rounds = 3, warmup = 0.25 } = {}) {
  const server = await startMockLlm({ latencyMs: { min: latencyMs * 0.8, max: latencyMs * 1.2 }, maxConcurrent: k, concurrencyRetryAfterMs: 5 });
  const url = `${server.url}/chat/completions`;
  const call = async (i, { signal }) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: `q${i}` }], max_tokens: 4 }),
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, headers: response.headers });
    }
    return response.json();
  };
  const run = async (options) => {
    const d = new Dispatcher({ timeoutMs: 10_000, retry: { retries: Infinity, minDelayMs: 5, maxDelayMs: 1_000 }, ...options });
    const attempts = [];
    const task = (i) => async (ctx) => {
      const record = { at: performance.now(), status: 200 };
      attempts.push(record);
      try {
        return await call(i, ctx);
      } catch (error) {
        record.status = error.status ?? 0;
        throw error;
      }
    };
    const started = performance.now();
    const results = await d.dispatch(Array.from({ length: n }, (_, i) => ({ id: `q${i}`, func: task(i) })));
    const seconds = (performance.now() - started) / 1000;
    const done = results.filter((r) => r.success).length;
    const settled = started + seconds * 1000 * warmup;
    const late = attempts.filter((a) => a.at >= settled);
    return {
      goodput: done / seconds,
      rejectedAfterWarmup: late.filter((a) => a.status === 429).length / late.length,
      limit: d.currentLimit,
      failed: n - done,
    };
  };
  const exact = [];
  const adaptive = [];
  try {
    for (let round = 0; round < rounds; round++) {
      exact.push(await run({ maxWorkers: k }));
      adaptive.push(await run({ maxWorkers, adaptive: true }));
    }
  } finally {
    await server.close();
  }
  const median = (runs) => {
    const sorted = [...runs].sort((a, b) => a.goodput - b.goodput);
    return sorted[sorted.length >> 1];
  };
  const a = median(adaptive);
  const e = median(exact);
  return { k, n, latencyMs, maxWorkers, exact: e, adaptive: a, ratio: a.goodput / e.goodput };
}
