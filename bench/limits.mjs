// Rate limits against the mock server over real HTTP, in scaled time (bench/scaled-time.mjs): duta told
// the server's own requests- and tokens-per-minute limits, run for several one-minute windows under a
// deadline. Reports the 429s the server sent and the throughput against the limit that binds. The
// classes are passed in, so the benchmark runs the built package and the sanity test the sources.
import { scaleTime } from './scaled-time.mjs';

/** The mock server's prompt-token estimate for one user message (as a provider's tokenizer would be known). */
const promptTokens = (content) => 2 + 4 + Math.ceil(content.length / 4);

export async function measureLimits(
  { Dispatcher, startMockLlm },
  { scale = 10, windows = 4, requestsPerMinute = 300, tokensPerMinute = 12_000, maxTokens = 40, overEstimate = 1, keys = 1, burstMs = 1_000 } = {},
) {
  const restore = scaleTime(scale);
  try {
    const server = await startMockLlm({ requestsPerMinute, tokensPerMinute, latencyMs: { min: 200, max: 600 } });
    const url = `${server.url}/chat/completions`;
    // Usage as the server counts it for its limit: prompt tokens plus max_tokens, charged at admission.
    const usageOf = (body) => ({ totalTokens: body.usage.prompt_tokens + maxTokens });
    const d = new Dispatcher({
      maxWorkers: 256,
      timeoutMs: 30_000,
      rateLimit: { requestsPerMinute, tokensPerMinute, burstMs },
      usageOf,
      deadline: Date.now() + windows * 60_000,
      safetyMarginMs: 0,
    });
    const n = Math.ceil(requestsPerMinute * windows * 1.5);
    // Each attempt's start on duta's clock, with the tokens the server will charge for it.
    const charges = new Map();
    const starts = [];
    d.on('start', ({ taskId }) => starts.push({ at: performance.now(), tokens: charges.get(taskId) }));
    const tasks = Array.from({ length: n }, (_, i) => {
      const content = `Question ${i}: ${'x'.repeat(i % 200)}`;
      charges.set(`q${i}`, promptTokens(content) + maxTokens);
      return {
        id: `q${i}`,
        key: `k${i % keys}`,
        cost: (promptTokens(content) + maxTokens) * overEstimate,
        func: async ({ signal }) => {
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content }], max_tokens: maxTokens }),
            signal,
          });
          const body = await response.json();
          if (!response.ok) {
            throw Object.assign(new Error(body.error?.message ?? `HTTP ${response.status}`), { status: response.status });
          }
          return body;
        },
      };
    });
    const started = Date.now();
    const results = await d.dispatch(tasks);
    const minutes = (Date.now() - started) / 60_000;
    const done = results.filter((r) => r.success);
    const tokens = done.reduce((sum, r) => sum + usageOf(r.result).totalTokens, 0);
    const byStatus = {};
    for (const r of results) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    }
    const stats = server.stats();
    await server.close();
    const requestShare = done.length / minutes / requestsPerMinute;
    const tokenShare = tokens / minutes / tokensPerMinute;
    return {
      scale,
      windows,
      minutes,
      requestsPerMinute,
      tokensPerMinute,
      overEstimate,
      burstMs,
      tooMany: stats.byStatus[429] ?? 0,
      /** Requests the server received. */
      requests: stats.requests,
      /** The most requests and tokens duta started in any sliding minute of its own clock. */
      busiestMinute: busiestMinute(starts),
      /** Tasks queued, and how their results ended (the deadline cancels what does not fit). */
      tasks: n,
      results: results.length,
      byStatus,
      requestShare,
      tokenShare,
      /** The share of the binding limit reached. */
      throughput: Math.max(requestShare, tokenShare),
      order: done.map((r) => r.taskId),
    };
  } finally {
    restore();
  }
}

/** The most starts, and the most tokens, within any 60 s: a window ending at each start, slid over them in order. */
function busiestMinute(starts) {
  let requests = 0;
  let tokens = 0;
  let sum = 0;
  let first = 0;
  for (let last = 0; last < starts.length; last++) {
    sum += starts[last].tokens;
    while (starts[last].at - starts[first].at >= 60_000) {
      sum -= starts[first++].tokens;
    }
    requests = Math.max(requests, last - first + 1);
    tokens = Math.max(tokens, sum);
  }
  return { requests, tokens };
}
