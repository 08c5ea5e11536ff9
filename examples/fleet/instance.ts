/**
 * One instance of the fleet in `npm run demo:fleet`, as one copy of a serverless function would be: its
 * own process, Redis client and Dispatcher, calling the mock LLM server through the openai SDK. It reads
 * one run a line on stdin (JSON: see `Run`), and writes its progress as JSON lines on stdout.
 */
import { Dispatcher, type TaskContext } from 'duta';
import { redisCoordinator } from 'duta/redis';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { createInterface } from 'node:readline';

export interface Run {
  /** The mock server's base URL. */
  readonly url: string;
  readonly redisPort: number;
  /** The fleet's name when the instances share their limits; null when each keeps its own. */
  readonly fleet: string | null;
  readonly tasks: number;
  /** What each instance is told of the provider's limits. */
  readonly maxConcurrent: number;
  readonly requestsPerMinute: number;
}

/** What an instance reports, one JSON line each time a request ends. */
export interface Progress {
  readonly done: number;
  readonly failed: number;
  /** Requests the server answered with a 429. */
  readonly tooMany: number;
  readonly finished: boolean;
}

const redis = new Redis({ port: Number(process.argv[2]), host: '127.0.0.1', lazyConnect: true });
redis.on('error', () => {});
await redis.connect();
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const run = JSON.parse(line) as Run;
  // The SDK's own retries are off: the dispatcher retries, after the Retry-After the server sends.
  const client = new OpenAI({ baseURL: run.url, apiKey: 'mock-key', maxRetries: 0 });
  const limits = { maxWorkers: run.maxConcurrent, rateLimit: { requestsPerMinute: run.requestsPerMinute } };
  const dispatcher = new Dispatcher({
    ...limits,
    retry: { retries: 20 },
    // The same limits, made the fleet's: maxWorkers caps the requests in flight across every instance.
    ...(run.fleet !== null && { coordinator: redisCoordinator({ client: redis, name: run.fleet, maxWorkers: run.maxConcurrent }) }),
  });
  const progress = { done: 0, failed: 0, tooMany: 0, finished: false };
  const report = (): void => void process.stdout.write(`${JSON.stringify(progress satisfies Progress)}\n`);
  const ask = async (i: number, { signal }: TaskContext): Promise<string> => {
    try {
      const completion = await client.chat.completions.create(
        { model: 'mock-gpt', messages: [{ role: 'user', content: `Question ${i}` }], max_tokens: 16 },
        { signal },
      );
      return completion.choices[0]?.message.content ?? '';
    } catch (error) {
      if ((error as { status?: unknown }).status === 429) {
        progress.tooMany++;
        report();
      }
      throw error;
    }
  };
  await dispatcher.dispatch(
    Array.from({ length: run.tasks }, (_, i) => ({ id: `q${i}`, func: (ctx: TaskContext) => ask(i, ctx) })),
    {
      onProgress: ({ done, failed }) => {
        Object.assign(progress, { done, failed });
        report();
      },
    },
  );
  progress.finished = true;
  report();
  // Before the client closes: the fleet slots of the last attempts are given back at once.
  await dispatcher.shutdown();
}
redis.disconnect();
