// A provider that limits hard: 600 requests a minute, 5% of requests failing with 500 or 503, and a cap
// of 6 concurrent requests answered with 429s. duta is told the request limit; it retries what is
// retryable (Retry-After honoured, every start paused on a 429), its adaptive limit comes down from 24 at
// each burst of 429s, and it reports as it goes through events, onProgress and stats(). The server is
// the witness: it counts the 429s and 5xx it sent.
import { Dispatcher, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

const llm = await startLlm({ latencyMs: { median: 300, spread: 0.3 }, requestsPerMinute: 600, maxConcurrent: 6, concurrencyRetryAfterMs: 50, errorRate: 0.05, seed: 7 });
const dispatcher = new Dispatcher({
  maxWorkers: 24,
  adaptive: true,
  rateLimit: { requestsPerMinute: 600 },
  retry: { retries: 5, minDelayMs: 100 },
});
dispatcher.on('limit', ({ limit, previous }) => console.log(`  limit ${previous} → ${limit}`));
let retries = 0;
dispatcher.on('retry', () => retries++);

const started = performance.now();
const results = await dispatcher.dispatch(
  Array.from({ length: 60 }, (_, i) => ({
    id: `q${i}`,
    func: async ({ signal }: TaskContext) => (await llm.complete(`Question ${i}`, { signal })).text,
  })),
  { onProgress: ({ done, failed, total }) => (done + failed) % 20 === 0 && console.log(`  ${done + failed}/${total} finished`) },
);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
const { byStatus, peakConcurrent } = llm.server.stats();
const stats = dispatcher.stats();
console.log(`\n${results.filter((r) => r.success).length}/60 answered in ${seconds} s after ${retries} retries; limit settled at ${dispatcher.currentLimit}`);
console.log(`p50 ${stats.p50.toFixed(0)} ms, p95 ${stats.p95.toFixed(0)} ms per task (retries included)`);
console.log(`the server sent ${JSON.stringify(byStatus)}, at most ${peakConcurrent} in flight`);
await llm.close();
