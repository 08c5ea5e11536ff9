// Submit on one instance, look up on another: two copies of a "serverless function" (child processes,
// each with its own Dispatcher and Redis connection, sharing task records through duta/redis) behind a
// small router on loopback. A POST lands on instance A, which submits 20 chat completions and answers
// with their ids; GETs land on instance B, which has never seen those tasks and reports them from Redis:
// pending, running, done. Then the platform kills A mid-run, and B reports A's unfinished tasks as lost.
// Needs redis-server on PATH (this starts a private one on a free port and stops it at the end).
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { Dispatcher, type DispatchResult, type TaskContext } from 'duta';
import { redisCoordinator } from 'duta/redis';
import { startMockLlm } from 'duta/testing';

/** Every instance's coordinator: one fleet name, and a short lease so that a dead instance is noticed soon. */
const FLEET = { name: 'serverless-jobs', leaseMs: 2_000 } as const;

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

// ---------------------------------------------------------------------------------------------------
// One instance of the function: an HTTP handler, as it would be deployed.
// ---------------------------------------------------------------------------------------------------
async function instance(redisPort: number, llmUrl: string): Promise<void> {
  const client = new Redis({ port: redisPort, host: '127.0.0.1' });
  const llm = new OpenAI({ baseURL: llmUrl, apiKey: 'mock-key', maxRetries: 0 });
  const dispatcher = new Dispatcher({ maxWorkers: 4, timeoutMs: 30_000, coordinator: redisCoordinator({ client, ...FLEET }) });

  async function complete(prompt: string, { signal }: TaskContext): Promise<string> {
    const completion = await llm.chat.completions.create(
      { model: 'mock-gpt', messages: [{ role: 'user', content: prompt }], max_tokens: 24 },
      { signal },
    );
    return completion.choices[0]?.message.content ?? '';
  }

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', 'http://instance');
    if (req.method === 'POST' && url.pathname === '/jobs') {
      let body = '';
      for await (const chunk of req) {
        body += String(chunk);
      }
      const { prompts } = JSON.parse(body) as { prompts: string[] };
      const ids = prompts.map((prompt) => dispatcher.submit({ id: `job-${randomUUID().slice(0, 8)}`, func: complete, args: [prompt] }));
      await dispatcher.flush(); // the GETs may land on another instance
      reply(202, { ids });
    } else if (req.method === 'GET' && url.pathname.startsWith('/jobs/')) {
      const id = url.pathname.slice('/jobs/'.length);
      const record = url.searchParams.has('wait') ? await dispatcher.waitFor(id).catch(() => undefined) : await dispatcher.lookup(id);
      reply(record === undefined ? 404 : 200, record ?? { error: 'unknown task' });
    } else {
      reply(404, { error: 'no such route' });
    }
  });
  process.send?.({ port: await listen(server) });
  // The platform retires the instance: it stops taking requests and its connection goes.
  process.once('disconnect', () => {
    server.close();
    void dispatcher.shutdown().finally(() => client.disconnect());
  });
}

// ---------------------------------------------------------------------------------------------------
// The platform: Redis, the mock provider, two instances and a router in front of them.
// ---------------------------------------------------------------------------------------------------
/** A private redis-server on a free port; undefined, having said what to install, when there is none. */
async function startRedis(): Promise<{ port: number; stop: () => void } | undefined> {
  // A free port: taken, then given back for redis-server.
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const started = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(false) : reject(error)));
    server.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('Ready to accept connections') && resolve(true));
  });
  if (!started) {
    console.error('This example needs redis-server on PATH. Install it (`apt install redis-server` on Debian or Ubuntu, `brew install redis` on macOS) and run it again.');
    process.exitCode = 1;
    return undefined;
  }
  return { port, stop: () => void server.kill('SIGKILL') };
}

async function platform(): Promise<void> {
  const redis = await startRedis();
  if (redis === undefined) {
    return;
  }
  const mock = await startMockLlm({ latencyMs: { median: 900, spread: 0.3 }, seed: 3 });
  const children: ChildProcess[] = [];
  const start = async (): Promise<{ child: ChildProcess; port: number }> => {
    const child = fork(import.meta.filename, ['--instance', String(redis.port), mock.url]);
    children.push(child);
    const port = await new Promise<number>((resolve) => child.once('message', (message) => resolve((message as { port: number }).port)));
    return { child, port };
  };
  const [a, b] = await Promise.all([start(), start()]);

  // The router: POSTs go to instance A, GETs to instance B, as a load balancer might send them.
  const router = createServer((req, res) => {
    const target = req.method === 'POST' ? a.port : b.port;
    const forward = request({ port: target, host: '127.0.0.1', method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  const base = `http://127.0.0.1:${await listen(router)}`;
  console.log(`redis-server on port ${redis.port}; the mock LLM at ${mock.url}; instances A (pid ${a.child.pid}) and B (pid ${b.child.pid}) behind ${base}\n`);

  try {
    const prompts = Array.from({ length: 20 }, (_, i) => `Summarise support ticket #${i + 1} in one line.`);
    const posted = await fetch(`${base}/jobs`, { method: 'POST', body: JSON.stringify({ prompts }) });
    const { ids } = (await posted.json()) as { ids: string[] };
    console.log(`POST /jobs → A: ${posted.status}, ${ids.length} chat completions submitted (${ids.slice(0, 3).join(', ')}, …)`);

    const look = async (): Promise<Record<string, string>> => {
      const records = await Promise.all(ids.map(async (id) => (await (await fetch(`${base}/jobs/${id}`)).json()) as { status: string }));
      return Object.fromEntries(ids.map((id, i) => [id, records[i]!.status]));
    };
    const tally = (statuses: Record<string, string>): string => {
      const counts = new Map<string, number>();
      for (const status of Object.values(statuses)) {
        counts.set(status, (counts.get(status) ?? 0) + 1);
      }
      return ['pending', 'running', 'done', 'lost'].filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${s}`).join(', ');
    };

    // B waits for the first task, which runs on A, and gets its result when it ends there.
    const first = fetch(`${base}/jobs/${ids[0]}?wait`).then(async (r) => (await r.json()) as DispatchResult<string>);
    let statuses = await look();
    console.log(`GET /jobs/:id ×20 → B: ${tally(statuses)}`);
    const waited = await first;
    console.log(`GET /jobs/${ids[0]}?wait → B waited for a task that ran on A: ${waited.status}, ${JSON.stringify(waited.success ? waited.result.slice(0, 40) : waited.error)}…`);
    while (Object.values(statuses).filter((s) => s === 'done').length < 8) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      statuses = await look();
      console.log(`GET /jobs/:id ×20 → B: ${tally(statuses)}`);
    }

    a.child.kill('SIGKILL');
    const killedAt = performance.now();
    const sinceKill = (): string => `${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`;
    console.log('\nthe platform kills instance A (SIGKILL) mid-run: it says goodbye to nobody');
    for (;;) {
      statuses = await look();
      console.log(`GET /jobs/:id ×20 → B: ${tally(statuses)}   (${sinceKill()})`);
      if (!Object.values(statuses).some((s) => s === 'pending' || s === 'running')) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    const lostId = ids.find((id) => statuses[id] === 'lost');
    if (lostId !== undefined) {
      const lost = (await (await fetch(`${base}/jobs/${lostId}`)).json()) as DispatchResult;
      console.log(`\n${lostId}: ${lost.success ? lost.status : lost.error}`);
      console.log(`A stopped renewing its liveness, so once its lease (leaseMs: ${FLEET.leaseMs}) ran out, any instance sees its unfinished tasks as lost; a client would submit them again.`);
    }
  } finally {
    router.close();
    for (const child of children) {
      if (child.connected) {
        child.disconnect();
      }
    }
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
    await mock.close();
    redis.stop();
    console.log('\nstopped instance B, the router, the mock LLM and redis-server');
  }
}

const at = process.argv.indexOf('--instance');
if (at >= 0) {
  await instance(Number(process.argv[at + 1]), String(process.argv[at + 2]));
} else {
  await platform();
}
