// A two-stage pipeline: find papers for each question, then summarise every paper, sharing one dispatcher
// (one concurrency budget for the provider).
import { Dispatcher, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

const llm = await startLlm({ latencyMs: { median: 500, spread: 0.4 } });
const questions = ['retrieval-augmented generation', 'speculative decoding', 'mixture of experts'];
const dispatcher = new Dispatcher({ maxWorkers: 6, timeoutMs: 4_000 });

async function findPapers(topic: string, { signal }: TaskContext): Promise<string[]> {
  await llm.complete(`List papers about ${topic}`, { signal });
  return [1, 2, 3].map((n) => `${topic} — paper ${n}`);
}

async function summarisePaper(title: string, { signal }: TaskContext): Promise<string> {
  return (await llm.complete(`Summarise the paper "${title}"`, { signal, maxTokens: 32 })).text;
}

// Stage 1: one search per question, all at once.
const searches = await dispatcher.dispatch(questions.map((topic) => ({ id: `search:${topic}`, func: findPapers, args: [topic] })));
const papers = searches.flatMap((r) => (r.success ? r.result : []));
console.log(`stage 1: ${papers.length} papers from ${searches.filter((r) => r.success).length} searches`);

// Stage 2: summaries, with the first paper of each topic first in line.
const summaries = await dispatcher.dispatch(
  papers.map((title) => ({ id: `summary:${title}`, func: summarisePaper, args: [title], priority: title.endsWith('paper 1') ? 1 : 0 })),
);
for (const r of summaries) {
  console.log(r.success ? `- ${r.taskId.slice('summary:'.length)}: ${r.result.slice(0, 40)}…` : `- ${r.taskId}: ${r.status} (${r.error})`);
}
await dispatcher.shutdown();
console.log(`the server saw ${llm.server.stats().requests} requests, at most ${llm.server.stats().peakConcurrent} at once`);
await llm.close();
