// The Vercel AI SDK under duta, against the mock server: generateText and streamText with the SDK's own
// retries off, so duta retries, pauses every start on a 429 and counts the usage. The provider fails now
// and then: 429s at first, some 500s and 503s, and streams broken off mid-way. Point baseURL at a real
// OpenAI-compatible provider (and use a real key) and it runs unchanged. ai@6 runs on Node 20; ai@7 needs 22.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { Dispatcher, defaultUsageOf, type TaskContext } from 'duta';
import { readAiSdkStream } from 'duta/clients';
import { startMockLlm } from 'duta/testing';

const server = await startMockLlm({
  latencyMs: { median: 300, spread: 0.3 },
  failFirst: { count: 3, status: 429, retryAfterMs: 500 },
  errorRate: 0.1,
  streamErrorRate: 0.15,
  seed: 5,
});
// includeUsage: the provider asks for the usage at the end of a stream.
const model = createOpenAICompatible({ name: 'mock', baseURL: server.url, apiKey: 'mock-key', includeUsage: true })('mock-gpt');

const dispatcher = new Dispatcher({ maxWorkers: 4, timeoutMs: 10_000, retry: { retries: 4, minDelayMs: 100 } });
dispatcher.on('pause', ({ reason }) => console.log(`  every start paused (${reason})`));
dispatcher.on('retry', ({ taskId, attempt, error }) => console.log(`  ${taskId} retried after attempt ${attempt}: ${error.slice(0, 50)}`));

// maxRetries: 0 — the SDK's own retries would run inside one of duta's attempts, holding its slot, blind
// to the pause, and ending in a RetryError.
const generate = (question: string, ctx: TaskContext) =>
  generateText({ model, prompt: question, maxOutputTokens: 64, maxRetries: 0, abortSignal: ctx.signal });
// streamText reports a failure only inside its stream; readAiSdkStream makes it the task's error, and
// reports the usage through ctx. onError: the error is the task's now, not the console's.
const stream = (question: string, ctx: TaskContext) =>
  readAiSdkStream(streamText({ model, prompt: question, maxOutputTokens: 64, maxRetries: 0, abortSignal: ctx.signal, onError: () => {} }), { context: ctx });

const questions = Array.from({ length: 6 }, (_, i) => `Question ${i}?`);
const [generated, streamed] = await Promise.all([
  dispatcher.dispatch(questions.map((q, i) => ({ id: `generate-${i}`, func: generate, args: [q] }))),
  dispatcher.dispatch(questions.map((q, i) => ({ id: `stream-${i}`, func: stream, args: [q] }))),
]);
console.log();
for (const r of [...generated, ...streamed]) {
  console.log(`${r.taskId}: ${r.success ? `“${r.result.text.slice(0, 40)}…”` : `${r.status}: ${r.error}`} (attempts: ${r.attempts})`);
}
// generateText's result and readAiSdkStream's both carry the AI SDK's usage, which duta's default reads.
const counted = [...generated, ...streamed].reduce((sum, r) => sum + ((r.success && defaultUsageOf(r.result)?.totalTokens) || 0), 0);
const { byStatus, streamErrors, tokens } = server.stats();
console.log(`\nduta counted ${counted} tokens from the answers; the server served ${tokens}`);
console.log(`the server sent ${JSON.stringify(byStatus)} and broke off ${streamErrors} streams`);
await server.close();
