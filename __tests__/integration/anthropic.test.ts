import { describe, expect, test } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { readAnthropicStream } from '../../src/clients/index.js';
import { Dispatcher, type TaskContext } from '../../src/index.js';
import type { MockLlmOptions } from '../../src/testing/index.js';
import { until } from '../helpers.js';
import { useMockServers } from './mock-servers.js';

// The Anthropic SDK (1.x) against the mock server's Messages API over real sockets on 127.0.0.1, with the
// dispatcher's defaults and a user's obvious code: the server is the witness. Real time: bounds carry
// wide slack, and each test has its own server.
const startServer = useMockServers();

/** `maxRetries` is the SDK's own (2 by default); duta's retries go around it. */
async function setUp(options: MockLlmOptions, maxRetries?: number) {
  const server = await startServer(options);
  const client = new Anthropic({ baseURL: server.anthropicUrl, apiKey: 'test-key', ...(maxRetries !== undefined && { maxRetries }) });
  return { server, client };
}

const request = (ctx: TaskContext) => ({ model: 'mock-claude', max_tokens: 16, messages: [{ role: 'user' as const, content: `Question ${ctx.taskId}?` }] });

/** A task as a user writes it: messages.create with duta's signal, returning the message. */
const create = (client: Anthropic) => (ctx: TaskContext) => client.messages.create(request(ctx), { signal: ctx.signal });

/** The streamed task: messages.stream read by duta's helper, its usage reported through ctx. */
const stream = (client: Anthropic, onText?: (text: string) => void) => (ctx: TaskContext) =>
  readAnthropicStream(client.messages.stream(request(ctx), { signal: ctx.signal }), { context: ctx, ...(onText && { onText }) });

describe('duta with the Anthropic SDK against the mock server', () => {
  // The scripted failures carry a short Retry-After, which the SDK's own retries honour too.
  test.each([
    [429, 0],
    [500, 0],
    [529, 0],
    [429, 2],
    [500, 2],
    [529, 2],
  ])('a %i is retried by duta, with the SDK’s own maxRetries %i', async (status, maxRetries) => {
    const failures = maxRetries + 1;
    const { server, client } = await setUp({ latencyMs: 5, failFirst: { count: failures, status, retryAfterMs: 50 } }, maxRetries === 2 ? undefined : maxRetries);
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 } });
    const retried: string[] = [];
    d.on('retry', (e) => retried.push(e.error));
    const [r] = await d.dispatch([{ id: 'q', func: create(client) }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(server.stats()).toMatchObject({ requests: failures + 1, byStatus: { [status]: failures, 200: 1 } });
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatch(new RegExp(`^${status} `));
  });

  test('a burst of 529s with a Retry-After pauses every start: the server sees no request until it has passed', async () => {
    const { server, client } = await setUp({ latencyMs: 5, failFirst: { count: 4, status: 529, retryAfterMs: 1_000 } }, 0);
    const d = new Dispatcher({ maxWorkers: 4, adaptive: true, retry: { retries: 3, minDelayMs: 10 } });
    const pauses: number[] = [];
    d.on('pause', () => pauses.push(performance.now()));
    const starts: number[] = [];
    const task = (ctx: TaskContext) => {
      starts.push(performance.now());
      return create(client)(ctx);
    };
    const pending = d.dispatch(Array.from({ length: 8 }, (_, i) => ({ id: `q${i}`, func: task })));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(d.paused).toBe(true);
    expect(server.stats().requests).toBe(4);
    // The overload also cut the adaptive limit, once for the burst.
    expect(d.currentLimit).toBe(3);
    const results = await pending;
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(server.stats().byStatus).toEqual({ 200: 8, 529: 4 });
    expect(Math.min(...starts.slice(4)) - (pauses[0] as number)).toBeGreaterThanOrEqual(1_000 - 5);
  });

  test('the default usageOf counts a message’s input and output tokens against a token budget, as the server counted them', async () => {
    const { server, client } = await setUp({ latencyMs: 5 }, 0);
    const d = new Dispatcher({ maxWorkers: 1, budget: { tokens: 1 } });
    const results = await d.dispatch(['a', 'b'].map((id) => ({ id, func: create(client) })));
    const served = server.stats().tokens;
    expect(served).toBeGreaterThan(0);
    expect(results.map((r) => r.status)).toEqual(['done', 'cancelled']);
    expect(results[1]?.error).toBe(`task "b" was cancelled: budget exhausted (tokens: ${served} used of 1)`);
  });

  test('a timed-out task closes its HTTP request: the server sees the client hang up', async () => {
    const { server, client } = await setUp({ hangRate: 1 }, 0);
    const d = new Dispatcher({ timeoutMs: 100 });
    const [r] = await d.dispatch([{ id: 'slow', func: create(client) }]);
    expect(r).toMatchObject({ status: 'timeout', error: 'task "slow" timed out after 100 ms' });
    await until(() => server.stats().inFlight === 0);
    expect(server.stats().clientAborted).toBe(1);
    expect(d.activeCount).toBe(0);
  });

  test('a timeout mid-stream closes the stream’s request too', async () => {
    // The first event comes at 1.5 s and the last at 3 s: the timeout falls between them.
    const { server, client } = await setUp({ latencyMs: 3_000 }, 0);
    const d = new Dispatcher({ timeoutMs: 2_200 });
    let received = '';
    const [r] = await d.dispatch([{ id: 'slow', func: stream(client, (piece) => (received += piece)) }]);
    expect(r?.status).toBe('timeout');
    expect(received.length).toBeGreaterThan(0);
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ clientAborted: 1, byStatus: { 200: 1 }, tokens: 0 });
  });

  test('an overloaded_error mid-stream fails its attempt with the SDK’s error, and the retry succeeds', async () => {
    const { server, client } = await setUp({ latencyMs: 20, failFirst: { count: 1, status: 529, midStream: true } }, 0);
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 }, budget: { tokens: 1 } });
    const retried: string[] = [];
    d.on('retry', (e) => retried.push(e.error));
    const [r] = await d.dispatch([{ id: 'a', func: stream(client) }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(retried).toEqual(['{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}']);
    expect(server.stats()).toMatchObject({ requests: 2, byStatus: { 200: 2 }, streamErrors: 1 });
    const message = r?.result as Anthropic.Message;
    expect(message.content[0]?.type).toBe('text');
    // The whole stream's usage, reported at its end, spent the budget: the next task does not start.
    const [next] = await d.dispatch([{ id: 'b', func: stream(client) }]);
    expect(next?.error).toBe(`task "b" was cancelled: budget exhausted (tokens: ${server.stats().tokens} used of 1)`);
  });
});
