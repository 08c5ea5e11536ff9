// The Anthropic SDK under duta, against the mock server's Messages API: messages.create and
// messages.stream with the SDK's own retries off, so duta retries, pauses every start on a 529 with a
// Retry-After, lowers its adaptive limit, and reads the input and output tokens of each answer. The
// provider is overloaded at first (529s), then fails now and then: 500s, 529s, and overloaded_error
// events mid-stream. Point baseURL at the real API (and use a real key) and it runs unchanged.
import Anthropic from '@anthropic-ai/sdk';
import { Dispatcher, defaultUsageOf, type TaskContext } from 'duta';
import { readAnthropicStream } from 'duta/clients';
import { startMockLlm } from 'duta/testing';

const server = await startMockLlm({
  latencyMs: { median: 300, spread: 0.3 },
  failFirst: { count: 4, status: 529, retryAfterMs: 500 },
  errorRate: 0.1,
  streamErrorRate: 0.15,
  seed: 14,
});
// maxRetries: 0 — the SDK's own retries would run inside one of duta's attempts, holding its slot and
// blind to the pause every other worker should respect.
const client = new Anthropic({ baseURL: server.anthropicUrl, apiKey: 'mock-key', maxRetries: 0 });

const dispatcher = new Dispatcher({ maxWorkers: 6, adaptive: true, timeoutMs: 10_000, retry: { retries: 4, minDelayMs: 100 } });
dispatcher.on('pause', ({ reason }) => console.log(`  every start paused (${reason})`));
dispatcher.on('limit', ({ limit, previous }) => console.log(`  adaptive limit ${previous} → ${limit}`));
dispatcher.on('retry', ({ taskId, attempt, error }) => console.log(`  ${taskId} retried after attempt ${attempt}: ${error.slice(0, 60)}`));

const params = (question: string) => ({ model: 'mock-claude', max_tokens: 64, messages: [{ role: 'user' as const, content: question }] });
const create = (question: string, ctx: TaskContext) => client.messages.create(params(question), { signal: ctx.signal });
// readAnthropicStream waits on finalMessage(), which fails on an error event mid-stream, and reports the usage.
const stream = (question: string, ctx: TaskContext) => readAnthropicStream(client.messages.stream(params(question), { signal: ctx.signal }), { context: ctx });

const questions = Array.from({ length: 8 }, (_, i) => `Question ${i}?`);
const [created, streamed] = await Promise.all([
  dispatcher.dispatch(questions.map((q, i) => ({ id: `create-${i}`, func: create, args: [q] }))),
  dispatcher.dispatch(questions.map((q, i) => ({ id: `stream-${i}`, func: stream, args: [q] }))),
]);
console.log();
for (const r of [...created, ...streamed]) {
  const text = r.success && r.result.content[0]?.type === 'text' ? r.result.content[0].text : '';
  console.log(`${r.taskId}: ${r.success ? `“${text.slice(0, 40)}…”` : `${r.status}: ${r.error}`} (attempts: ${r.attempts})`);
}
// A message carries Anthropic's usage (input_tokens + output_tokens), which duta's default reads.
const counted = [...created, ...streamed].reduce((sum, r) => sum + ((r.success && defaultUsageOf(r.result)?.totalTokens) || 0), 0);
const { byStatus, streamErrors, tokens } = server.stats();
console.log(`\nduta counted ${counted} tokens from the answers; the server served ${tokens}`);
console.log(`the server sent ${JSON.stringify(byStatus)} and broke off ${streamErrors} streams`);
console.log(`the adaptive limit settled at ${dispatcher.currentLimit} of 6`);
await server.close();
