import { describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { Dispatcher, type DispatchResult, type TaskContext } from '../../src/index.js';
import type { MockLlm, MockLlmOptions } from '../../src/testing/index.js';
import { until } from '../helpers.js';
import { useMockServers } from './mock-servers.js';

// The real openai SDK against the mock server over real sockets on 127.0.0.1: the server is the witness.
const startServer = useMockServers();

async function setUp(options: MockLlmOptions): Promise<{ server: MockLlm; client: OpenAI }> {
  const server = await startServer(options);
  // No SDK retries: every failure must surface as a result.
  const client = new OpenAI({ baseURL: server.url, apiKey: 'test-key', maxRetries: 0 });
  return { server, client };
}

function ask(client: OpenAI) {
  return async function askModel(question: string, { signal }: TaskContext): Promise<string> {
    const completion = await client.chat.completions.create(
      { model: 'mock-gpt', messages: [{ role: 'user', content: question }], max_tokens: 32 },
      { signal },
    );
    return completion.choices[0]?.message.content ?? '';
  };
}


const questions = (n: number) => Array.from({ length: n }, (_, i) => `Question ${i}?`);

describe('duta with the openai SDK against the mock server', () => {
  test('concurrency as the server sees it reaches maxWorkers and never exceeds it', async () => {
    const { server, client } = await setUp({ latencyMs: 40 });
    const d = new Dispatcher({ maxWorkers: 4 });
    const results = await d.dispatch(questions(24).map((q, i) => ({ id: `q${i}`, func: ask(client), args: [q] })));
    expect(results.every((r) => r.success)).toBe(true);
    expect(server.stats()).toMatchObject({ requests: 24, peakConcurrent: 4, byStatus: { 200: 24 } });
  });

  test("a timed-out task's HTTP request is aborted: the server sees the client hang up", async () => {
    const { server, client } = await setUp({ hangRate: 1 });
    const d = new Dispatcher({ timeoutMs: 100 });
    const [result] = await d.dispatch([{ id: 'slow', func: ask(client), args: ['Will you answer?'] }]);
    expect(result?.status).toBe('timeout');
    expect(result?.error).toBe('task "slow" timed out after 100 ms');
    const waitedMs = await until(() => server.stats().inFlight === 0);
    // At once, give or take a loaded machine: a hanging request left open would never end.
    expect(waitedMs).toBeLessThan(2_000);
    expect(server.stats().clientAborted).toBe(1);
    expect(d.activeCount).toBe(0);
  });

  test('shutdown(false) aborts the requests in flight the same way', async () => {
    const { server, client } = await setUp({ hangRate: 1 });
    const d = new Dispatcher({ maxWorkers: 3 });
    for (const [i, q] of questions(5).entries()) {
      d.submit({ id: `q${i}`, func: ask(client), args: [q] });
    }
    await until(() => server.stats().inFlight === 3);
    await d.shutdown(false);
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ requests: 3, clientAborted: 3 });
    expect([...d.results.values()].map((r) => r.status)).toEqual(Array(5).fill('cancelled'));
  });

  test('429s, 5xx, hangs and resets all end as failed results with clear errors, and none is lost', async () => {
    // Only the hang needs a short timeout: the answers that come at once get a long one, so a loaded machine
    // slow to read a 429 cannot turn it into a timeout.
    const cases: [MockLlmOptions, RegExp, DispatchResult['status'], number][] = [
      [{ latencyMs: 0, failFirst: { count: 3, status: 429 } }, /^429 /, 'failed', 5_000],
      [{ latencyMs: 0, errorRate: 1 }, /^50[03] /, 'failed', 5_000],
      [{ hangRate: 1 }, /timed out after 100 ms/, 'timeout', 100],
      [{ latencyMs: 5, resetRate: 1 }, /Connection error|terminated|socket/i, 'failed', 5_000],
    ];
    for (const [options, message, status, timeoutMs] of cases) {
      const { server, client } = await setUp(options);
      const d = new Dispatcher({ maxWorkers: 2, timeoutMs });
      const results = await d.dispatch(questions(3).map((q, i) => ({ id: `q${i}`, func: ask(client), args: [q] })));
      expect(results.map((r) => r.status)).toEqual([status, status, status]);
      for (const r of results) {
        expect(r.error).toMatch(message);
      }
      await until(() => server.stats().inFlight === 0);
      expect(server.stats().requests).toBe(3);
    }
  });

  test('a 429 carries the status and the retry-after headers on the error the SDK throws', async () => {
    const { client } = await setUp({ latencyMs: 0, requestsPerMinute: 1 });
    const d = new Dispatcher();
    const [ok, limited] = await d.dispatch([
      { id: 'a', func: ask(client), args: ['one'] },
      { id: 'b', func: ask(client), args: ['two'] },
    ]);
    expect(ok?.success).toBe(true);
    const cause = (limited as { cause: { status: number; headers: Headers } }).cause;
    expect(cause.status).toBe(429);
    expect(Number(cause.headers.get('retry-after-ms'))).toBeGreaterThan(0);
  });

  test('a stream broken off by an error chunk throws a status-less server_error, which duta retries', async () => {
    const { server, client } = await setUp({ latencyMs: 20, failFirst: { count: 1, status: 500, midStream: true } });
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs: 10 } });
    const retried: string[] = [];
    d.on('retry', (e) => retried.push(e.error));
    const [r] = await d.dispatch([
      {
        id: 'stream',
        func: async ({ signal }: TaskContext) => {
          const stream = await client.chat.completions.create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'stream please' }], stream: true }, { signal });
          let text = '';
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? '';
          }
          return text;
        },
      },
    ]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    expect(retried).toEqual(['The server had an error while processing your request.']);
    expect(server.stats()).toMatchObject({ requests: 2, byStatus: { 200: 2 }, streamErrors: 1 });
  });

  test('streaming through the SDK yields the whole answer', async () => {
    const { server, client } = await setUp({ latencyMs: 5 });
    const d = new Dispatcher();
    const [r] = await d.dispatch([
      {
        id: 'stream',
        func: async ({ signal }: TaskContext) => {
          const stream = await client.chat.completions.create(
            { model: 'mock-gpt', messages: [{ role: 'user', content: 'stream please' }], stream: true, stream_options: { include_usage: true } },
            { signal },
          );
          let text = '';
          let total = 0;
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? '';
            total = chunk.usage?.total_tokens ?? total;
          }
          return { text, total };
        },
      },
    ]);
    expect(r?.success).toBe(true);
    const value = r?.result as { text: string; total: number };
    expect(value.text.split(' ').length).toBeGreaterThan(3);
    expect(value.total).toBe(server.stats().tokens);
  });
});
