import { describe, expect, test } from '@jest/globals';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { readAiSdkStream } from '../../src/clients/index.js';
import { Dispatcher, type TaskContext } from '../../src/index.js';
import type { MockLlmOptions } from '../../src/testing/index.js';
import { until } from '../helpers.js';
import { useMockServers } from './mock-servers.js';

// The Vercel AI SDK (ai 6 with @ai-sdk/openai-compatible 2) against the mock server over real sockets on
// 127.0.0.1, with the dispatcher's defaults and a user's obvious code: the server is the witness. Real time:
// bounds carry wide slack, and each test has its own server.
const startServer = useMockServers();

async function setUp(options: MockLlmOptions) {
  const server = await startServer(options);
  const provider = createOpenAICompatible({ name: 'mock', baseURL: server.url, apiKey: 'test-key', includeUsage: true });
  return { server, model: provider('mock-gpt') };
}

type Model = Awaited<ReturnType<typeof setUp>>['model'];

/** A task as a user writes it: generateText with duta's signal; `maxRetries` is the SDK's own. */
const generate = (model: Model, maxRetries?: number) => (ctx: TaskContext) =>
  generateText({ model, prompt: `Question ${ctx.taskId}?`, maxOutputTokens: 16, abortSignal: ctx.signal, ...(maxRetries !== undefined && { maxRetries }) });

/** The streamed task: streamText read by duta's helper, its usage reported through ctx. */
const stream = (model: Model, maxRetries = 0) => (ctx: TaskContext) =>
  readAiSdkStream(
    streamText({ model, prompt: `Question ${ctx.taskId}?`, maxOutputTokens: 16, abortSignal: ctx.signal, maxRetries, onError: () => undefined }),
    { context: ctx },
  );

describe('duta with the AI SDK against the mock server', () => {
  // The scripted failures carry a short Retry-After, which the SDK's own retries honour too, so a run
  // with them on takes milliseconds rather than the SDK's 2 s backoff.
  test.each([
    [429, 0],
    [500, 0],
    [529, 0],
    [429, 2],
    [500, 2],
    [529, 2],
  ])('a %i is retried by duta, with the SDK’s own maxRetries %i', async (status, maxRetries) => {
    const failures = maxRetries + 1;
    const { server, model } = await setUp({ latencyMs: 5, failFirst: { count: failures, status, retryAfterMs: 50 } });
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 } });
    const retried: string[] = [];
    d.on('retry', (e) => retried.push(e.error));
    const [r] = await d.dispatch([{ id: 'q', func: generate(model, maxRetries === 2 ? undefined : maxRetries) }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(server.stats()).toMatchObject({ requests: failures + 1, byStatus: { [status]: failures, 200: 1 } });
    // With its own retries on (2 by default), the SDK spends them inside duta's first attempt and throws a
    // RetryError, which duta retries.
    expect(retried).toEqual([maxRetries === 2 ? expect.stringMatching(/^Failed after 3 attempts/) : `Scripted failure (failFirst): ${status}`]);
  });

  test('a burst of 429s pauses every start: the server sees no request until the Retry-After has passed', async () => {
    const { server, model } = await setUp({ latencyMs: 5, failFirst: { count: 4, status: 429, retryAfterMs: 1_000 } });
    const d = new Dispatcher({ maxWorkers: 4, retry: { retries: 3, minDelayMs: 10 } });
    const pauses: number[] = [];
    d.on('pause', () => pauses.push(performance.now()));
    const starts: number[] = [];
    const task = (ctx: TaskContext) => {
      starts.push(performance.now());
      return generate(model, 0)(ctx);
    };
    const pending = d.dispatch(Array.from({ length: 8 }, (_, i) => ({ id: `q${i}`, func: task })));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(d.paused).toBe(true);
    expect(server.stats().requests).toBe(4);
    const results = await pending;
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(server.stats().byStatus).toEqual({ 200: 8, 429: 4 });
    // Every start after the first four waited out the second the server asked for, from the first 429.
    expect(Math.min(...starts.slice(4)) - (pauses[0] as number)).toBeGreaterThanOrEqual(1_000 - 5);
  });

  test('the default usageOf counts generateText’s usage against a token budget, as the server counted it', async () => {
    const { server, model } = await setUp({ latencyMs: 5 });
    const d = new Dispatcher({ maxWorkers: 1, budget: { tokens: 1 } });
    const results = await d.dispatch(['a', 'b'].map((id) => ({ id, func: generate(model, 0) })));
    const served = server.stats().tokens;
    expect(served).toBeGreaterThan(0);
    expect(results.map((r) => r.status)).toEqual(['done', 'cancelled']);
    expect(results[1]?.error).toBe(`task "b" was cancelled: budget exhausted (tokens: ${served} used of 1)`);
  });

  test('a timed-out task closes its HTTP request: the server sees the client hang up', async () => {
    const { server, model } = await setUp({ hangRate: 1 });
    const d = new Dispatcher({ timeoutMs: 100 });
    const [r] = await d.dispatch([{ id: 'slow', func: generate(model, 0) }]);
    expect(r).toMatchObject({ status: 'timeout', error: 'task "slow" timed out after 100 ms' });
    await until(() => server.stats().inFlight === 0);
    expect(server.stats().clientAborted).toBe(1);
    expect(d.activeCount).toBe(0);
  });

  test('a timeout mid-stream closes the stream’s request too', async () => {
    // The first event comes at 1.5 s and the last at 3 s: the timeout falls between them.
    const { server, model } = await setUp({ latencyMs: 3_000 });
    const d = new Dispatcher({ timeoutMs: 2_200 });
    let received = '';
    const [r] = await d.dispatch([
      {
        id: 'slow',
        func: (ctx: TaskContext) =>
          readAiSdkStream(streamText({ model, prompt: 'Tell me slowly', abortSignal: ctx.signal, maxRetries: 0, onError: () => undefined }), {
            context: ctx,
            onText: (piece) => {
              received += piece;
            },
          }),
      },
    ]);
    expect(r?.status).toBe('timeout');
    expect(received.length).toBeGreaterThan(0);
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ clientAborted: 1, byStatus: { 200: 1 }, tokens: 0 });
  });

  test('a stream broken off by an error chunk fails its attempt with the provider’s error, and the retry succeeds', async () => {
    const { server, model } = await setUp({ latencyMs: 20, failFirst: { count: 1, status: 500, midStream: true } });
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 }, budget: { tokens: 1 } });
    const retried: string[] = [];
    d.on('retry', (e) => retried.push(e.error));
    const [r] = await d.dispatch([{ id: 'a', func: stream(model) }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(retried).toEqual(['The stream failed: The server had an error while processing your request.']);
    expect(server.stats()).toMatchObject({ requests: 2, byStatus: { 200: 2 }, streamErrors: 1 });
    const { text } = r?.result as { text: string };
    expect(text.split(' ').length).toBeGreaterThan(3);
    // The whole stream's usage, reported at its end, spent the budget: the next task does not start.
    const [next] = await d.dispatch([{ id: 'b', func: stream(model) }]);
    expect(next?.error).toBe(`task "b" was cancelled: budget exhausted (tokens: ${server.stats().tokens} used of 1)`);
  });

  test('a 429 before a stream’s first token fails the attempt, pauses every start and is retried', async () => {
    const { server, model } = await setUp({ latencyMs: 5, failFirst: { count: 1, status: 429, retryAfterMs: 300 } });
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 } });
    const pauses: unknown[] = [];
    d.on('pause', (e) => pauses.push(e.reason));
    const [r] = await d.dispatch([{ id: 'q', func: stream(model) }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(pauses).toEqual(['rate-limit']);
    expect(server.stats().byStatus).toEqual({ 429: 1, 200: 1 });
  });

  test('without readAiSdkStream, textStream ends quietly on that 429: the task would succeed with no text', async () => {
    const { model } = await setUp({ latencyMs: 5, failFirst: { count: 1, status: 429 } });
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 } });
    const naive = async (ctx: TaskContext) => {
      let text = '';
      for await (const piece of streamText({ model, prompt: 'hi', abortSignal: ctx.signal, maxRetries: 0, onError: () => undefined }).textStream) {
        text += piece;
      }
      return text;
    };
    const [r] = await d.dispatch([{ id: 'q', func: naive }]);
    expect(r).toMatchObject({ status: 'done', attempts: 1, result: '' });
  });
});
