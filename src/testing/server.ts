import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorBody, modelsBody, openAi } from './completions.js';
import { anthropic } from './messages.js';
import { type MockLlmOptions, type ResolvedMockOptions, resolveMockOptions } from './options.js';
import { drawLatency } from './latency.js';
import { randomStream } from './random.js';
import { type Protocol, promptTokens } from './request.js';
import { type Admitted, type Counters, type Headers, after, answer, send } from './respond.js';
import { SlidingWindow, formatDuration } from './window.js';

/** What the server saw: it, not the client, is the witness in tests. */
export interface MockLlmStats {
  /** Chat-completion and Messages requests received, whatever their fate. */
  requests: number;
  /** Responses sent, by status code. Aborted, reset and hanging requests have no status. */
  byStatus: Record<string, number>;
  /** Most admitted requests in flight at once. */
  peakConcurrent: number;
  /** Admitted requests in flight now: from the end of the body to the response sent or the connection closed. */
  inFlight: number;
  /** Admitted requests whose connection the client closed before the response was sent. */
  clientAborted: number;
  /** Sum of the tokens (prompt + completion) of the 200 answers served whole. */
  tokens: number;
  /** Streams broken off by an error event (`streamErrorRate`, `failFirst.midStream`). */
  streamErrors: number;
  /** What the per-minute limits count now: requests and tokens charged in the last 60 s. */
  window: { requests: number; tokens: number };
  /** Open TCP connections. */
  connections: number;
}

/** A running mock server, from `startMockLlm`. */
export interface MockLlm {
  /** The base URL to hand an OpenAI client or the AI SDK's providers: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  /** The base URL to hand the Anthropic SDK, which adds `/v1/messages` itself: `http://127.0.0.1:<port>`. */
  readonly anthropicUrl: string;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** What the server has seen since it started or was last `reset()`. */
  stats(): MockLlmStats;
  /** Clears counters, windows, the `failFirst` script and the random stream; live requests go on. */
  reset(): void;
  /** Ends every open connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 speaking OpenAI's chat completions and Anthropic's Messages API that
 * behaves like a provider under load: latency, per-minute request and token limits, a concurrency cap,
 * faults, and counts of what it saw.
 */
export async function startMockLlm(options?: MockLlmOptions): Promise<MockLlm> {
  const config: ResolvedMockOptions = resolveMockOptions(options);
  const requestWindow = new SlidingWindow(config.requestsPerMinute);
  const tokenWindow = new SlidingWindow(config.tokensPerMinute);
  const live = new Set<Admitted>();
  const sockets = new Set<Socket>();
  const newCounters = (): Counters => ({ requests: 0, byStatus: {}, peakConcurrent: live.size, clientAborted: 0, tokens: 0, streamErrors: 0 });
  let counters = newCounters();
  let failFirstLeft = config.failFirst.count;
  let arrivals = 0;
  let closing = false;

  const limitHeaders = (now: number): Headers => {
    const headers: Headers = {};
    for (const [name, window] of [['requests', requestWindow], ['tokens', tokenWindow]] as const) {
      if (window.limit !== Infinity) {
        headers[`x-ratelimit-limit-${name}`] = window.limit;
        headers[`x-ratelimit-remaining-${name}`] = Math.max(0, window.limit - window.used(now));
        headers[`x-ratelimit-reset-${name}`] = formatDuration(window.resetMs(now));
      }
    }
    return headers;
  };

  const retryAfter = (waitMs: number): Headers => ({ 'retry-after': Math.ceil(waitMs / 1000), 'retry-after-ms': Math.ceil(waitMs) });

  const tooMany = (
    protocol: Protocol,
    res: ServerResponse,
    count: Counters,
    waitMs: number,
    message: string,
    headers: Headers = {},
  ): void => {
    send(res, count, 429, protocol.error(429, message), { ...headers, ...retryAfter(waitMs) });
  };

  const admit = (res: ServerResponse, count: Counters): Admitted => {
    const admitted: Admitted = { timer: undefined, endedByServer: false };
    live.add(admitted);
    count.peakConcurrent = Math.max(count.peakConcurrent, live.size);
    res.on('close', () => {
      live.delete(admitted);
      clearTimeout(admitted.timer);
      if (!res.writableFinished && !admitted.endedByServer && !closing) {
        count.clientAborted++;
      }
    });
    return admitted;
  };

  const onRequest = (protocol: Protocol, res: ServerResponse, body: string): void => {
    const count = counters;
    const index = arrivals++;
    count.requests++;
    const random = randomStream(config.seed, index);
    const request = protocol.parse(body);
    if (typeof request === 'string') {
      send(res, count, 400, protocol.error(400, request));
      return;
    }
    const maxTokens = request.maxTokens ?? config.defaultMaxTokens;
    const prompt = promptTokens(request);
    // Scripted failures come first (after a request is readable at all) and use no quota.
    if (failFirstLeft > 0) {
      failFirstLeft--;
      const { status, midStream, retryAfterMs } = config.failFirst;
      if (midStream && request.stream) {
        const latency = drawLatency(config.latencyMs, random) + config.latencyPerTokenMs * maxTokens;
        answer(res, count, admit(res, count), { protocol, request, index, random, latency, headers: {}, maxTokens, promptTokens: prompt, breakWith: status });
        return;
      }
      const headers = retryAfterMs === undefined ? {} : retryAfter(retryAfterMs);
      send(res, count, status, protocol.error(status, `Scripted failure (failFirst): ${status}`), headers);
      return;
    }
    const now = performance.now();
    if (live.size >= config.maxConcurrent) {
      tooMany(protocol, res, count, config.concurrencyRetryAfterMs, `Too many concurrent requests: the limit is ${config.maxConcurrent}.`);
      return;
    }
    const cost = prompt + maxTokens;
    if (cost > config.tokensPerMinute) {
      // It can never fit: as providers do, a 429 that says so (retrying after a full window will not help).
      tooMany(protocol, res, count, tokenWindow.windowMs, `Request too large: it needs ${cost} tokens, but the limit is ${config.tokensPerMinute} tokens per minute.`, limitHeaders(now));
      return;
    }
    const requestWait = requestWindow.waitMs(1, now);
    const tokenWait = tokenWindow.waitMs(cost, now);
    if (requestWait > 0 || tokenWait > 0) {
      const what =
        requestWait >= tokenWait
          ? `requests per minute (RPM): Limit ${config.requestsPerMinute}`
          : `tokens per minute (TPM): Limit ${config.tokensPerMinute}, Requested ${cost}`;
      tooMany(protocol, res, count, Math.max(requestWait, tokenWait), `Rate limit reached on ${what}.`, limitHeaders(now));
      return;
    }
    requestWindow.charge(1, now);
    tokenWindow.charge(cost, now);
    const headers = limitHeaders(now);
    const roll = random();
    if (roll < config.errorRate) {
      const status = roll < config.errorRate / 2 ? 500 : protocol.overloadStatus;
      send(res, count, status, protocol.error(status, status === 500 ? 'The server had an error.' : 'The engine is overloaded.'), headers);
      return;
    }
    const admitted = admit(res, count);
    if (roll < config.errorRate + config.hangRate) {
      return;
    }
    const latency = drawLatency(config.latencyMs, random) + config.latencyPerTokenMs * maxTokens;
    if (roll < config.errorRate + config.hangRate + config.resetRate) {
      // Headers and part of the body go out first; then the connection is reset (a TCP RST).
      after(admitted, latency / 2, () => {
        admitted.endedByServer = true;
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.write(protocol.cutBody, () => res.socket?.resetAndDestroy());
      });
      return;
    }
    const broken = roll < config.errorRate + config.hangRate + config.resetRate + config.streamErrorRate && request.stream;
    answer(res, count, admitted, { protocol, request, index, random, latency, headers, maxTokens, promptTokens: prompt, breakWith: broken ? protocol.overloadStatus : undefined });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(modelsBody());
      req.resume();
      return;
    }
    const protocol = req.method !== 'POST' ? undefined : path === '/v1/chat/completions' ? openAi : path === '/v1/messages' ? anthropic : undefined;
    if (protocol === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(errorBody(`Unknown route ${req.method} ${path}`, 'invalid_request_error'));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => onRequest(protocol, res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => undefined);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Malformed HTTP gets a bare 400, as Node's default would send; it must never take the server down.
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    } else {
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    anthropicUrl: `http://127.0.0.1:${port}`,
    port,
    stats: () => {
      const now = performance.now();
      return {
        ...counters,
        byStatus: { ...counters.byStatus },
        inFlight: live.size,
        window: { requests: requestWindow.used(now), tokens: tokenWindow.used(now) },
        connections: sockets.size,
      };
    },
    reset: () => {
      counters = newCounters();
      failFirstLeft = 0;
      arrivals = 0;
      requestWindow.clear();
      tokenWindow.clear();
    },
    close: async () => {
      closing = true;
      for (const admitted of live) {
        clearTimeout(admitted.timer);
      }
      const closed = [...sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) {
        socket.destroy();
      }
      await Promise.all([stopped, ...closed]);
    },
  };
}
