import { afterEach, describe, expect, test } from '@jest/globals';
import { type MockLlm, type MockLlmOptions, startMockLlm } from '../src/testing/index.js';

// The mock server's Anthropic Messages API, over raw HTTP: the wire shapes the Anthropic SDK reads
// (the integration tests drive it with the SDK itself).
const servers: MockLlm[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: MockLlmOptions): Promise<MockLlm> {
  const server = await startMockLlm(options);
  servers.push(server);
  return server;
}

const messages = (server: MockLlm, body: object = {}) =>
  fetch(`${server.anthropicUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'mock-claude', max_tokens: 16, messages: [{ role: 'user', content: 'Say hello' }], ...body }),
  });

const chat = (server: MockLlm, body: object = {}) =>
  fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16, ...body }),
  });

interface SseEvent {
  event: string | undefined;
  data: { type?: string; [key: string]: unknown };
}

/** Splits a server-sent event stream into its events. */
const parseSse = (text: string): SseEvent[] =>
  text
    .trim()
    .split('\n\n')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '{}';
      return { event, data: data === '[DONE]' ? { type: '[DONE]' } : (JSON.parse(data) as SseEvent['data']) };
    });

type ErrorJson = { type: string; error: { type: string; message: string } };

describe('the mock server’s Anthropic Messages API', () => {
  test('the Anthropic base URL is the origin, the SDK adding /v1/messages itself', async () => {
    const server = await start({ latencyMs: 0 });
    expect(server.anthropicUrl).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.url).toBe(`${server.anthropicUrl}/v1`);
  });

  test('answers in the Messages shape, with input and output tokens counted', async () => {
    const server = await start({ latencyMs: 0 });
    const res = await messages(server, { system: 'Be brief.' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      type: string;
      role: string;
      content: { type: string; text: string }[];
      stop_reason: string;
      usage: { input_tokens: number; output_tokens: number };
    };
    expect(body).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' });
    expect(body.content[0]?.type).toBe('text');
    expect(body.content[0]?.text.split(' ')).toHaveLength(body.usage.output_tokens);
    expect(body.usage.output_tokens).toBeLessThanOrEqual(16);
    expect(server.stats()).toMatchObject({ requests: 1, byStatus: { 200: 1 }, tokens: body.usage.input_tokens + body.usage.output_tokens });
  });

  test('streams message_start, a text block, message_delta with the output tokens, and message_stop', async () => {
    const server = await start({ latencyMs: 0 });
    const res = await messages(server, { stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = parseSse(await res.text());
    for (const { event, data } of events) {
      expect(data.type).toBe(event);
    }
    const names = events.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data['delta'] as { text: string }).text)
      .join('');
    const opening = events[0]?.data['message'] as { usage: { input_tokens: number } };
    const delta = events.find((e) => e.event === 'message_delta')?.data as { usage: { output_tokens: number }; delta: { stop_reason: string } };
    expect(text.split(' ')).toHaveLength(delta.usage.output_tokens);
    expect(delta.delta.stop_reason).toBe('end_turn');
    expect(server.stats().tokens).toBe(opening.usage.input_tokens + delta.usage.output_tokens);
  });

  test('a bad request gets a 400 in Anthropic’s error shape', async () => {
    const server = await start({ latencyMs: 0 });
    for (const body of [{ max_tokens: undefined }, { messages: [] }, { messages: [{ role: 'system', content: 'x' }] }, { stream: 'yes' }]) {
      const res = await messages(server, body);
      expect(res.status).toBe(400);
      const json = (await res.json()) as ErrorJson;
      expect(json.type).toBe('error');
      expect(json.error.type).toBe('invalid_request_error');
    }
  });

  test('over a limit it answers 429 rate_limit_error with retry-after, as on the OpenAI route', async () => {
    const server = await start({ latencyMs: 0, requestsPerMinute: 1 });
    expect((await messages(server)).status).toBe(200);
    const limited = await messages(server);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(((await limited.json()) as ErrorJson).error.type).toBe('rate_limit_error');
    // Both APIs share the server's limits.
    expect((await chat(server)).status).toBe(429);
  });

  test('failFirst answers 529 overloaded_error, with a Retry-After when asked', async () => {
    const server = await start({ latencyMs: 0, failFirst: { count: 2, status: 529, retryAfterMs: 1_500 } });
    for (const send of [() => messages(server), () => chat(server)]) {
      const res = await send();
      expect(res.status).toBe(529);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.headers.get('retry-after-ms')).toBe('1500');
    }
    const res = await messages(server);
    expect(res.status).toBe(200);
    expect(server.stats().byStatus).toEqual({ 200: 1, 529: 2 });
  });

  test('errorRate answers 500 api_error or 529 overloaded_error on the Anthropic route, 500 or 503 on the OpenAI one', async () => {
    const server = await start({ latencyMs: 0, errorRate: 1 });
    const seen = new Map<number, string>();
    for (let i = 0; i < 12; i++) {
      const res = await messages(server);
      seen.set(res.status, ((await res.json()) as ErrorJson).error.type);
    }
    expect(Object.fromEntries(seen)).toEqual({ 500: 'api_error', 529: 'overloaded_error' });
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) {
      statuses.add((await chat(server)).status);
    }
    expect([...statuses].sort()).toEqual([500, 503]);
  });

  test('failFirst with midStream breaks a stream off halfway with an error event; a request that does not stream gets the status', async () => {
    const server = await start({ latencyMs: 0, failFirst: { count: 2, status: 529, midStream: true } });
    const res = await messages(server, { stream: true });
    expect(res.status).toBe(200);
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toContain('content_block_delta');
    expect(events.map((e) => e.event)).not.toContain('message_stop');
    expect(events.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    expect((await messages(server)).status).toBe(529);
    expect(server.stats()).toMatchObject({ requests: 2, byStatus: { 200: 1, 529: 1 }, streamErrors: 1, tokens: 0, clientAborted: 0 });
  });

  test('streamErrorRate breaks streams off on both routes: OpenAI with a server_error chunk', async () => {
    const server = await start({ latencyMs: 0, streamErrorRate: 1 });
    const openAi = (await (await chat(server, { stream: true })).text()).trim().split('\n\n');
    expect(openAi.at(-1)).toBe(
      'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}',
    );
    expect(openAi).not.toContain('data: [DONE]');
    const anthropic = parseSse(await (await messages(server, { stream: true })).text());
    expect(anthropic.at(-1)?.event).toBe('error');
    // Whole answers for requests that do not stream.
    expect((await messages(server)).status).toBe(200);
    expect(server.stats()).toMatchObject({ requests: 3, byStatus: { 200: 3 }, streamErrors: 2 });
  });

  test.each([
    [{ failFirst: { count: 1, status: 529, midStream: 'yes' } }, TypeError, 'Expected `failFirst.midStream` to be a boolean, got "yes" (string)'],
    [{ failFirst: { count: 1, status: 529, retryAfterMs: -1 } }, RangeError, '`failFirst.retryAfterMs`'],
    [{ failFirst: { count: 1, status: 529, after: 1 } }, TypeError, 'Unknown option `failFirst.after`'],
    [{ streamErrorRate: 1.5 }, RangeError, '`streamErrorRate`'],
    [{ errorRate: 0.5, streamErrorRate: 0.6 }, RangeError, 'errorRate + hangRate + resetRate + streamErrorRate'],
  ])('rejects bad options: %p', async (options, kind, message) => {
    await expect(startMockLlm(options as MockLlmOptions)).rejects.toThrow(kind);
    await expect(startMockLlm(options as MockLlmOptions)).rejects.toThrow(message);
  });
});
