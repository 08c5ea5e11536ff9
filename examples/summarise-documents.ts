// Summarise a list of documents at once: 8 calls in flight, each limited to 5 s, results in input order.
import { Dispatcher, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

const llm = await startLlm();
const documents = Array.from({ length: 20 }, (_, i) => `Document ${i + 1}: quarterly report on topic ${i % 5} ...`);

async function summarise(doc: string, { signal }: TaskContext): Promise<string> {
  const { text } = await llm.complete(`Summarise: ${doc}`, { signal });
  return text;
}

const dispatcher = new Dispatcher({ maxWorkers: 8, timeoutMs: 5_000 });
const started = performance.now();
const results = await dispatcher.dispatch(documents.map((doc, i) => ({ id: `doc-${i + 1}`, func: summarise, args: [doc] })));

for (const r of results) {
  // `r.success` narrows: `r.result` is a string here, `r.error` a message below.
  console.log(r.success ? `${r.taskId}: ${r.result.slice(0, 60)}…` : `${r.taskId} ${r.status}: ${r.error}`);
}
const ok = results.filter((r) => r.success).length;
const { requests, peakConcurrent } = llm.server.stats();
console.log(`\n${ok}/${results.length} summarised in ${((performance.now() - started) / 1000).toFixed(1)} s;`);
console.log(`the server saw ${requests} requests, at most ${peakConcurrent} at once`);
await llm.close();
