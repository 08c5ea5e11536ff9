import { afterEach, describe, expect, test } from '@jest/globals';
import { request } from 'node:http';
import { connect } from 'node:net';
import { type MockLlm, type MockLlmOptions, startMockLlm } from '../src/testing/index.js';
import { SlidingWindow, formatDuration } from '../src/testing/window.js';
import { randomStream } from '../src/testing/random.js';
import { drawLatency } from '../src/testing/latency.js';
import { until } from './helpers.js';

const servers: MockLlm[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: MockLlmOptions): Promise<MockLlm> {
  const server = await startMockLlm(options);
  servers.push(server);
  return server;
}

const chat = (server: MockLlm, body: object = {}, init: RequestInit = {}) =>
  fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16, ...body }),
    ...init,
  });


describe('the mock LLM server', () => {
  test('listens on 127.0.0.1 with a free port and a /v1 base URL', async () => {
    const server = await start({ latencyMs: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(server.port).toBeGreaterThan(0);
    const models = (await (await fetch(`${server.url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0]?.id).toBe('mock-gpt');
  });

  test('answers in the OpenAI shape with usage estimated from the text', async () => {
    const server = await start({ latencyMs: 0 });
    const res = await chat(server);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      id: string;
      object: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.role).toBe('assistant');
    expect(body.choices[0]?.message.content.split(' ')).toHaveLength(body.usage.completion_tokens);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(16);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(server.stats()).toMatchObject({ requests: 1, byStatus: { 200: 1 }, tokens: body.usage.total_tokens });
  });

  test('streams server-sent events ending in [DONE]', async () => {
    const server = await start({ latencyMs: 0 });
    const res = await chat(server, { stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = (await res.text()).trim().split('\n\n');
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice('data: '.length)) as { choices: { delta: { content?: string } }[]; usage?: { total_tokens: number } });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text.length).toBeGreaterThan(0);
    expect(chunks.at(-1)?.usage?.total_tokens).toBe(server.stats().tokens);
  });

  test('a bad request gets a 400 with an OpenAI-shaped error, and the server stays up', async () => {
    const server = await start({ latencyMs: 0 });
    for (const body of ['not json', '{"messages": []}', '{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}']) {
      const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', body });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; type: string } };
      expect(error.type).toBe('invalid_request_error');
      expect(error.message.length).toBeGreaterThan(0);
    }
    expect((await chat(server)).status).toBe(200);
    expect(server.stats()).toMatchObject({ requests: 4, byStatus: { 400: 3, 200: 1 }, peakConcurrent: 1 });
  });

  test('over the requests-per-minute limit it answers 429 with retry-after and rate-limit headers', async () => {
    const server = await start({ latencyMs: 0, requestsPerMinute: 2 });
    expect((await chat(server)).status).toBe(200);
    expect((await chat(server)).status).toBe(200);
    const limited = await chat(server);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(Number(limited.headers.get('retry-after-ms'))).toBeGreaterThan(59_000);
    expect(limited.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(limited.headers.get('x-ratelimit-reset-requests')).toMatch(/^(59s|1m0s)$/);
    // A 429 uses no quota: the window still counts two requests.
    expect(server.stats().window.requests).toBe(2);
    expect(server.stats().byStatus).toEqual({ 200: 2, 429: 1 });
  });

  test('the tokens-per-minute limit charges prompt tokens plus max_tokens at admission', async () => {
    const server = await start({ latencyMs: 0, tokensPerMinute: 100 });
    expect((await chat(server, { max_tokens: 60 })).status).toBe(200);
    const limited = await chat(server, { max_tokens: 60 });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-limit-tokens')).toBe('100');
    expect(Number(limited.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(60);
    expect((await chat(server, { max_tokens: 10 })).status).toBe(200);
  });

  test('over maxConcurrent it answers 429 at once, and only admitted requests count as in flight', async () => {
    const server = await start({ latencyMs: 200, maxConcurrent: 2 });
    const first = [chat(server), chat(server)];
    await until(() => server.stats().inFlight === 2);
    const third = await chat(server);
    expect(third.status).toBe(429);
    expect(server.stats()).toMatchObject({ inFlight: 2, peakConcurrent: 2 });
    await Promise.all(first);
  });

  test('failFirst scripts the first responses and uses no quota', async () => {
    const server = await start({ latencyMs: 0, failFirst: { count: 2, status: 429 }, requestsPerMinute: 1 });
    expect((await chat(server)).status).toBe(429);
    expect((await chat(server)).status).toBe(429);
    expect((await chat(server)).status).toBe(200);
    const bare = await start({ latencyMs: 0, failFirst: 1 });
    expect((await chat(bare)).status).toBe(503);
    expect((await chat(bare)).status).toBe(200);
  });

  test('errorRate answers 500 and 503, about half each', async () => {
    const server = await start({ latencyMs: 0, errorRate: 1 });
    const statuses = await Promise.all(Array.from({ length: 40 }, async () => (await chat(server)).status));
    expect(new Set(statuses)).toEqual(new Set([500, 503]));
    const { byStatus } = server.stats();
    expect((byStatus[500] ?? 0) + (byStatus[503] ?? 0)).toBe(40);
  });

  test('a client that hangs up on an admitted request is counted as client-aborted', async () => {
    const server = await start({ latencyMs: 0, hangRate: 1 });
    const controller = new AbortController();
    const pending = chat(server, {}, { signal: controller.signal }).catch((error: unknown) => error);
    await until(() => server.stats().inFlight === 1);
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ clientAborted: 1, byStatus: {} });
  });

  test('a reset connection fails the client and is neither a status nor a client abort', async () => {
    const server = await start({ latencyMs: 10, resetRate: 1 });
    await expect(chat(server).then((res) => res.json())).rejects.toThrow();
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ requests: 1, byStatus: {}, clientAborted: 0 });
  });

  test('close() ends hanging requests and open sockets, and does not count them as client aborts', async () => {
    const server = await startMockLlm({ hangRate: 1 });
    const pending = Promise.all([chat(server), chat(server)].map((p) => p.catch((error: unknown) => error)));
    await until(() => server.stats().inFlight === 2);
    await server.close();
    // fetch's errors come from another realm under Jest, so they are told apart by shape.
    expect((await pending).map((outcome) => (outcome as Error).name)).toEqual(['TypeError', 'TypeError']);
    expect(server.stats()).toMatchObject({ inFlight: 0, clientAborted: 0, connections: 0 });
  });

  test('a seeded run gives each request the same fate and latency, however requests interleave', async () => {
    const options = { seed: 7, errorRate: 0.3, latencyMs: { min: 0, max: 5 } } as const;
    const fates = async (order: 'sequential' | 'parallel'): Promise<number[]> => {
      const server = await start(options);
      if (order === 'sequential') {
        const statuses: number[] = [];
        for (let i = 0; i < 30; i++) {
          statuses.push((await chat(server)).status);
        }
        return statuses;
      }
      // In parallel the arrival order is the send order on one connection-less burst; compare as counts.
      return Promise.all(Array.from({ length: 30 }, async () => (await chat(server)).status));
    };
    const first = await fates('sequential');
    expect(await fates('sequential')).toEqual(first);
    const parallel = await fates('parallel');
    expect(parallel.filter((s) => s !== 200)).toHaveLength(first.filter((s) => s !== 200).length);
  });

  test('reset() clears the counters, the windows and the failFirst script', async () => {
    const server = await start({ latencyMs: 0, requestsPerMinute: 1, failFirst: { count: 5, status: 500 } });
    expect((await chat(server)).status).toBe(500);
    server.reset();
    expect(server.stats()).toMatchObject({ requests: 0, byStatus: {}, tokens: 0, window: { requests: 0, tokens: 0 } });
    expect((await chat(server)).status).toBe(200);
    expect((await chat(server)).status).toBe(429);
    server.reset();
    expect((await chat(server)).status).toBe(200);
  });

  test.each([
    [{ latencyMs: -1 }, RangeError, '`latencyMs`'],
    [{ latencyMs: { median: 100, spread: 'wide' } }, TypeError, '`latencyMs.spread`'],
    [{ errorRate: 2 }, RangeError, '`errorRate`'],
    [{ errorRate: 0.6, hangRate: 0.6 }, RangeError, 'errorRate + hangRate + resetRate'],
    [{ failFirst: { count: 1, status: 200 } }, RangeError, '`failFirst.status`'],
    [{ requestsPerMinute: 0 }, RangeError, '`requestsPerMinute`'],
    [{ port: 70_000 }, RangeError, '`port`'],
    [{ rpm: 5 }, TypeError, 'Unknown option `options.rpm`'],
  ])('rejects bad options: %p', async (options, kind, message) => {
    await expect(startMockLlm(options as MockLlmOptions)).rejects.toThrow(kind);
    await expect(startMockLlm(options as MockLlmOptions)).rejects.toThrow(message);
  });
});

describe('SlidingWindow', () => {
  test('counts charges of the last 60 s and says how long until an amount fits', () => {
    const window = new SlidingWindow(10);
    window.charge(6, 0);
    window.charge(4, 30_000);
    expect(window.used(30_000)).toBe(10);
    expect(window.waitMs(1, 30_000)).toBe(30_000);
    expect(window.waitMs(5, 30_000)).toBe(30_000);
    expect(window.waitMs(7, 30_000)).toBe(60_000);
    expect(window.used(60_000)).toBe(4);
    expect(window.waitMs(6, 60_000)).toBe(0);
    expect(window.waitMs(11, 60_000)).toBe(60_000);
    expect(window.resetMs(60_000)).toBe(30_000);
  });

  test('formats reset durations as providers do', () => {
    expect([250, 1_000, 1_001, 59_000, 60_000, 360_000].map(formatDuration)).toEqual(['250ms', '1s', '2s', '59s', '1m0s', '6m0s']);
  });
});

describe('randomStream', () => {
  test('is reproducible per seed and index, and differs between them', () => {
    const draw = (seed: number, index: number) => Array.from({ length: 3 }, randomStream(seed, index));
    expect(draw(1, 0)).toEqual(draw(1, 0));
    expect(draw(1, 0)).not.toEqual(draw(1, 1));
    expect(draw(1, 0)).not.toEqual(draw(2, 0));
    expect(draw(1, 5).every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('latency', () => {
  const draws = (model: Parameters<typeof drawLatency>[0], n = 4_000) => {
    const random = randomStream(11, 0);
    return Array.from({ length: n }, () => drawLatency(model, random)).sort((a, b) => a - b);
  };

  test('a number is a fixed latency', () => {
    expect(new Set(draws(120, 10))).toEqual(new Set([120]));
  });

  test('{ median, spread } is log-normal: the median as given, and ln(latency) with σ = spread', () => {
    const sample = draws({ median: 200, spread: 0.5 });
    const median = sample[sample.length / 2] as number;
    expect(median).toBeGreaterThan(185);
    expect(median).toBeLessThan(215);
    const logs = sample.map(Math.log);
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const sigma = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / logs.length);
    expect(sigma).toBeGreaterThan(0.45);
    expect(sigma).toBeLessThan(0.55);
  });

  test('{ min, max } is uniform between them', () => {
    const sample = draws({ min: 50, max: 150 });
    expect(sample[0]).toBeGreaterThanOrEqual(50);
    expect(sample.at(-1)).toBeLessThan(150);
    const mean = sample.reduce((a, b) => a + b, 0) / sample.length;
    expect(Math.abs(mean - 100)).toBeLessThan(3);
  });

  test('latencyPerTokenMs makes a request for more tokens take longer', async () => {
    const server = await start({ latencyMs: 0, latencyPerTokenMs: 2 });
    const timed = async (maxTokens: number) => {
      const started = performance.now();
      await (await chat(server, { max_tokens: maxTokens })).json();
      return performance.now() - started;
    };
    const long = await timed(100);
    expect(long).toBeGreaterThanOrEqual(195);
    // Compared with the long one rather than a fixed bound, which a loaded machine could pass.
    expect(await timed(1)).toBeLessThan(long);
  });
});

describe('the mock LLM server, in detail', () => {
  const post = (server: MockLlm, body: object) =>
    new Promise<{ status: number; head: string; error: string }>((resolve) => {
      const req = request(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let head = '';
        res.on('data', (chunk: Buffer) => {
          head += chunk.toString();
        });
        res.on('error', (error: Error & { code?: string }) => resolve({ status: res.statusCode ?? 0, head, error: error.code ?? error.message }));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, head, error: '' }));
      });
      req.on('error', (error: Error & { code?: string }) => resolve({ status: 0, head: '', error: error.code ?? error.message }));
      req.end(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }));
    });

  test('a reset sends the status line and part of the body, then resets the connection', async () => {
    const server = await start({ latencyMs: 20, resetRate: 1 });
    const outcome = await post(server, {});
    expect(outcome.status).toBe(200);
    expect(outcome.head).toContain('chatcmpl-mock-reset');
    expect(outcome.error).toMatch(/ECONNRESET|aborted/);
  });

  test('a stream starts at half the latency, so a client can hang up mid-stream', async () => {
    const server = await start({ latencyMs: 400 });
    const controller = new AbortController();
    const res = await chat(server, { stream: true }, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first.startsWith('data: ')).toBe(true);
    expect(server.stats().inFlight).toBe(1);
    controller.abort();
    await until(() => server.stats().inFlight === 0);
    expect(server.stats()).toMatchObject({ clientAborted: 1, tokens: 0, byStatus: { 200: 1 } });
  });

  test('a latency beyond what a timer can hold waits instead of answering at once', async () => {
    const server = await start({ latencyMs: 0, latencyPerTokenMs: 1e6 });
    const controller = new AbortController();
    const pending = chat(server, { max_tokens: 10_000 }, { signal: controller.signal }).catch(() => 'aborted');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.stats().inFlight).toBe(1);
    controller.abort();
    expect(await pending).toBe('aborted');
  });

  test('requests from before reset() do not count after it', async () => {
    const server = await start({ latencyMs: 100 });
    const before = chat(server);
    await until(() => server.stats().inFlight === 1);
    server.reset();
    await before;
    expect(server.stats()).toMatchObject({ requests: 0, byStatus: {}, tokens: 0 });
    expect((await chat(server)).status).toBe(200);
    expect(server.stats()).toMatchObject({ requests: 1, byStatus: { 200: 1 } });
  });

  test('a request larger than the whole tokens-per-minute limit is told so', async () => {
    const server = await start({ latencyMs: 0, tokensPerMinute: 50 });
    const res = await chat(server, { max_tokens: 100 });
    expect(res.status).toBe(429);
    const { error } = (await res.json()) as { error: { message: string } };
    expect(error.message).toMatch(/^Request too large: it needs \d+ tokens, but the limit is 50 tokens per minute\.$/);
  });

  test('malformed HTTP gets a 400 and the server stays up', async () => {
    const server = await start({ latencyMs: 0 });
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('NOT-HTTP\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString();
      });
      socket.on('close', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect((await chat(server)).status).toBe(200);
  });

  test('seeds are 32-bit integers', async () => {
    await expect(startMockLlm({ seed: 2 ** 32 })).rejects.toThrow('`seed`');
    await expect(startMockLlm({ seed: 1.5 })).rejects.toThrow(RangeError);
  });
});
