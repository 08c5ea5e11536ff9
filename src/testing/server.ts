import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type ChatRequest,
  answerText,
  completionBody,
  errorBody,
  modelsBody,
  parseChatRequest,
  promptTokens,
  streamEvents,
} from './completions.js';
import { type MockLlmOptions, type ResolvedMockOptions, resolveMockOptions } from './options.js';
import { drawLatency } from './latency.js';
import { randomStream } from './random.js';
import { SlidingWindow, formatDuration } from './window.js';

/** What the server saw: it, not the client, is the witness in tests. */
export interface MockLlmStats {
  /** Chat-completion requests received, whatever their fate. */
  requests: number;
  /** Responses sent, by status code. Aborted, reset and hanging requests have no status. */
  byStatus: Record<string, number>;
  /** Most admitted requests in flight at once. */
  peakConcurrent: number;
  /** Admitted requests in flight now: from the end of the body to the response sent or the connection closed. */
  inFlight: number;
  /** Admitted requests whose connection the client closed before the response was sent. */
  clientAborted: number;
  /** Sum of `usage.total_tokens` of the 200 responses served. */
  tokens: number;
  /** What the per-minute limits count now: requests and tokens charged in the last 60 s. */
  window: { requests: number; tokens: number };
  /** Open TCP connections. */
  connections: number;
}

export interface MockLlm {
  /** The base URL to hand an OpenAI client: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  readonly port: number;
  stats(): MockLlmStats;
  /** Clears counters, windows, the `failFirst` script and the random stream; live requests go on. */
  reset(): void;
  /** Ends every open connection and stops listening. */
  close(): Promise<void>;
}

interface Admitted {
  timer: ReturnType<typeof setTimeout> | undefined;
  endedByServer: boolean;
}

/**
 * Starts an OpenAI-compatible chat-completions server on 127.0.0.1 that behaves like a provider under
 * load: latency, per-minute request and token limits, a concurrency cap, faults, and counts of what it saw.
 */
export async function startMockLlm(options?: MockLlmOptions): Promise<MockLlm> {
  const config: ResolvedMockOptions = resolveMockOptions(options);
  const requestWindow = new SlidingWindow(config.requestsPerMinute);
  const tokenWindow = new SlidingWindow(config.tokensPerMinute);
  const live = new Set<Admitted>();
  const sockets = new Set<Socket>();
  let stats = { requests: 0, byStatus: {} as Record<string, number>, peakConcurrent: 0, clientAborted: 0, tokens: 0 };
  let failFirstLeft = config.failFirst.count;
  let arrivals = 0;
  let closing = false;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string | number> = {}): void => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
  };

  const limitHeaders = (now: number): Record<string, string | number> => {
    const headers: Record<string, string | number> = {};
    for (const [name, window] of [['requests', requestWindow], ['tokens', tokenWindow]] as const) {
      if (window.limit !== Infinity) {
        headers[`x-ratelimit-limit-${name}`] = window.limit;
        headers[`x-ratelimit-remaining-${name}`] = Math.max(0, window.limit - window.used(now));
        headers[`x-ratelimit-reset-${name}`] = formatDuration(window.resetMs(now));
      }
    }
    return headers;
  };

  const tooMany = (res: ServerResponse, waitMs: number, message: string, headers: Record<string, string | number> = {}): void => {
    send(res, 429, errorBody(message, 'rate_limit_exceeded', 'rate_limit_exceeded'), {
      ...headers,
      'retry-after': Math.max(1, Math.ceil(waitMs / 1000)),
      'retry-after-ms': Math.ceil(waitMs),
    });
  };

  const admit = (res: ServerResponse): Admitted => {
    const admitted: Admitted = { timer: undefined, endedByServer: false };
    live.add(admitted);
    stats.peakConcurrent = Math.max(stats.peakConcurrent, live.size);
    res.on('close', () => {
      live.delete(admitted);
      clearTimeout(admitted.timer);
      if (!res.writableFinished && !admitted.endedByServer && !closing) {
        stats.clientAborted++;
      }
    });
    return admitted;
  };

  const answer = (res: ServerResponse, request: ChatRequest, index: number, random: () => number, headers: Record<string, string | number>): void => {
    const maxTokens = request.maxTokens ?? config.defaultMaxTokens;
    const completionTokens = Math.min(maxTokens, 8 + Math.floor(random() * 32));
    const text = answerText(completionTokens, random);
    const prompt = promptTokens(request);
    const usage = { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
    const id = `chatcmpl-mock-${index}`;
    if (!request.stream) {
      stats.tokens += usage.total_tokens;
      send(res, 200, completionBody(id, request.model, text, usage), headers);
      return;
    }
    stats.byStatus[200] = (stats.byStatus[200] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
    for (const event of streamEvents(id, request.model, text, usage, request.includeUsage)) {
      res.write(event);
    }
    res.end(() => {
      stats.tokens += usage.total_tokens;
    });
  };

  const onChatRequest = (res: ServerResponse, body: string): void => {
    const index = arrivals++;
    stats.requests++;
    const random = randomStream(config.seed, index);
    const request = parseChatRequest(body);
    if (typeof request === 'string') {
      send(res, 400, errorBody(request, 'invalid_request_error'));
      return;
    }
    // Scripted failures come first and use no quota.
    if (failFirstLeft > 0) {
      failFirstLeft--;
      const status = config.failFirst.status;
      const retry: Record<string, number> = status === 429 ? { 'retry-after': 1, 'retry-after-ms': 1000 } : {};
      send(res, status, errorBody(`Scripted failure (failFirst): ${status}`, status === 429 ? 'rate_limit_exceeded' : 'server_error'), retry);
      return;
    }
    const now = performance.now();
    if (live.size >= config.maxConcurrent) {
      tooMany(res, 1000, `Too many concurrent requests: the limit is ${config.maxConcurrent}.`);
      return;
    }
    const cost = promptTokens(request) + (request.maxTokens ?? config.defaultMaxTokens);
    const requestWait = requestWindow.waitMs(1, now);
    const tokenWait = tokenWindow.waitMs(cost, now);
    if (requestWait > 0 || tokenWait > 0) {
      const what =
        requestWait >= tokenWait
          ? `requests per minute (RPM): Limit ${config.requestsPerMinute}`
          : `tokens per minute (TPM): Limit ${config.tokensPerMinute}, Requested ${cost}`;
      tooMany(res, Math.max(requestWait, tokenWait), `Rate limit reached on ${what}.`, limitHeaders(now));
      return;
    }
    requestWindow.charge(1, now);
    tokenWindow.charge(cost, now);
    const headers = limitHeaders(now);
    const roll = random();
    if (roll < config.errorRate) {
      const status = roll < config.errorRate / 2 ? 500 : 503;
      send(res, status, errorBody(status === 500 ? 'The server had an error.' : 'The engine is overloaded.', 'server_error'), headers);
      return;
    }
    const admitted = admit(res);
    if (roll < config.errorRate + config.hangRate) {
      return;
    }
    const latency = drawLatency(config.latencyMs, random) + config.latencyPerTokenMs * (request.maxTokens ?? config.defaultMaxTokens);
    if (roll < config.errorRate + config.hangRate + config.resetRate) {
      admitted.timer = setTimeout(() => {
        admitted.endedByServer = true;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"chatcmpl-mock-reset","object":"chat.com');
        res.socket?.destroy();
      }, latency / 2);
      return;
    }
    admitted.timer = setTimeout(() => answer(res, request, index, random, headers), latency);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(modelsBody());
      req.resume();
      return;
    }
    if (path !== '/v1/chat/completions' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(errorBody(`Unknown route ${req.method} ${path}`, 'invalid_request_error'));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => onChatRequest(res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => undefined);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A client error (a malformed request line, a reset) must never take the server down.
  server.on('clientError', (_error, socket: Socket) => socket.destroy());

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
    port,
    stats: () => {
      const now = performance.now();
      return {
        ...stats,
        byStatus: { ...stats.byStatus },
        inFlight: live.size,
        window: { requests: requestWindow.used(now), tokens: tokenWindow.used(now) },
        connections: sockets.size,
      };
    },
    reset: () => {
      stats = { requests: 0, byStatus: {}, peakConcurrent: live.size, clientAborted: 0, tokens: 0 };
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
