// A two-stage pipeline: find papers for each question, then summarise every paper, sharing one dispatcher
// (one concurrency budget for the provider) and one deadline per call.
import { Dispatcher, type TaskContext } from 'duta';
import { complete } from './fake-llm.js';

const questions = ['retrieval-augmented generation', 'speculative decoding', 'mixture of experts'];
const dispatcher = new Dispatcher({ maxWorkers: 6, timeoutMs: 4_000 });

async function findPapers(topic: string, { signal }: TaskContext): Promise<string[]> {
  await complete(`List papers about ${topic}`, { signal, medianMs: 500 });
  return [1, 2, 3].map((n) => `${topic} — paper ${n}`);
}

async function summarisePaper(title: string, { signal }: TaskContext): Promise<string> {
  const { text } = await complete(`Summarise the paper "${title}"`, { signal, medianMs: 700 });
  return text;
}

// Stage 1: one search per question, all at once.
const searches = await dispatcher.dispatch(
  questions.map((topic) => ({ id: `search:${topic}`, func: findPapers, args: [topic] })),
);
const papers = searches.flatMap((r) => (r.success ? r.result : []));
console.log(`stage 1: ${papers.length} papers from ${searches.filter((r) => r.success).length} searches`);

// Stage 2: summaries, with the first paper of each topic first in line.
const summaries = await dispatcher.dispatch(
  papers.map((title) => ({
    id: `summary:${title}`,
    func: summarisePaper,
    args: [title],
    priority: title.endsWith('paper 1') ? 1 : 0,
  })),
);
for (const r of summaries) {
  console.log(r.success ? `- ${r.result}` : `- ${r.taskId}: ${r.status} (${r.error})`);
}
await dispatcher.shutdown();
