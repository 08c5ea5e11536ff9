import { afterEach, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { Dispatcher, type TaskContext } from '../../src/index.js';
import { type MockLlm, type MockLlmOptions, startMockLlm } from '../../src/testing/index.js';

// Retries and the queue-wide pause against the mock server over real HTTP, through the openai SDK
// (its own retries off). Real time: bounds carry generous slack.
const servers: MockLlm[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

async function setUp(options: MockLlmOptions): Promise<{ server: MockLlm; client: OpenAI }> {
  const server = await startMockLlm(options);
  servers.push(server);
  return { server, client: new OpenAI({ baseURL: server.url, apiKey: 'test-key', maxRetries: 0 }) };
}

const ask = (client: OpenAI, starts: number[] = []) =>
  async function askModel(question: string, { signal }: TaskContext): Promise<string> {
    starts.push(performance.now());
    const completion = await client.chat.completions.create(
      { model: 'mock-gpt', messages: [{ role: 'user', content: question }], max_tokens: 8 },
      { signal },
    );
    return completion.choices[0]?.message.content ?? '';
  };

describe('retries over real HTTP', () => {
  test('a 429 with Retry-After is retried after at least the header and at most header + jitter bound', async () => {
    const { server, client } = await setUp({ latencyMs: 5, failFirst: { count: 1, status: 429 } });
    const minDelayMs = 50;
    const d = new Dispatcher({ retry: { retries: 2, minDelayMs } });
    const starts: number[] = [];
    const [r] = await d.dispatch([{ id: 'q', func: ask(client, starts), args: ['hello?'] }]);
    expect(r).toMatchObject({ status: 'done', attempts: 2 });
    const gap = (starts[1] as number) - (starts[0] as number);
    // The mock's failFirst 429 says retry-after-ms: 1000.
    expect(gap).toBeGreaterThanOrEqual(1_000);
    // Slack for a loaded event loop, yet well short of a doubled wait.
    expect(gap).toBeLessThanOrEqual(1_000 + minDelayMs + 700);
    expect(server.stats().byStatus).toEqual({ 200: 1, 429: 1 });
  });

  test('a burst of 429s pauses the whole dispatcher: the server sees no new request before the retry time', async () => {
    const { server, client } = await setUp({ latencyMs: 5, failFirst: { count: 4, status: 429 } });
    const d = new Dispatcher({ maxWorkers: 4, retry: { retries: 3, minDelayMs: 10 } });
    let pausedAt = -1;
    d.on('pause', () => {
      if (pausedAt < 0) {
        pausedAt = performance.now();
      }
    });
    // The server's count as the pause ends: taken at the event rather than after a sleep, which a loaded
    // machine could wake past the end of the pause.
    let seenAtResume = -1;
    d.on('resume', () => {
      if (seenAtResume < 0) {
        seenAtResume = server.stats().requests;
      }
    });
    const starts: number[] = [];
    const results = await d.dispatch(Array.from({ length: 12 }, (_, i) => ({ id: `q${i}`, func: ask(client, starts), args: [`q${i}?`] })));
    expect(pausedAt).toBeGreaterThan(0);
    expect(seenAtResume).toBe(4);
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(server.stats().byStatus).toEqual({ 200: 12, 429: 4 });
    // Every start after the first four waited out the 1 s the server asked for, counted from the first 429.
    const later = starts.slice(4);
    expect(later).toHaveLength(12);
    expect(Math.min(...later) - pausedAt).toBeGreaterThanOrEqual(1_000 - 5);
  });

  test('no slot is held during a backoff wait: with maxWorkers 1, a task waiting to retry lets another run', async () => {
    const { server, client } = await setUp({ latencyMs: 5, failFirst: { count: 1, status: 500 } });
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 1, minDelayMs: 300, jitter: 'none' } });
    const order: string[] = [];
    d.on('start', (e) => order.push(`${e.taskId}#${e.attempt}`));
    const results = await d.dispatch([
      { id: 'flaky', func: ask(client), args: ['a?'] },
      { id: 'other', func: ask(client), args: ['b?'] },
    ]);
    expect(results.map((r) => [r.status, r.attempts])).toEqual([['done', 2], ['done', 1]]);
    expect(order).toEqual(['flaky#1', 'other#1', 'flaky#2']);
    expect(server.stats().byStatus).toEqual({ 200: 2, 500: 1 });
  });
});
