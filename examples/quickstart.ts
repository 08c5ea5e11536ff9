import { Dispatcher, type TaskContext } from 'duta';
import { startMockLlm } from 'duta/testing';

// A stand-in for your provider: an OpenAI-compatible server on 127.0.0.1 that fails one call in five.
const llm = await startMockLlm({ latencyMs: 300, errorRate: 0.2 });

async function summarise(doc: string, { signal }: TaskContext): Promise<string> {
  const res = await fetch(`${llm.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: `Summarise: ${doc}` }] }),
    signal, // a timeout or a cancel aborts the request itself
  });
  if (!res.ok) {
    // Throw with the status and headers: duta retries a 429 or a 5xx, waiting out any Retry-After.
    throw Object.assign(new Error(`HTTP ${res.status}: ${await res.text()}`), { status: res.status, headers: res.headers });
  }
  const body = (await res.json()) as { choices: { message: { content: string } }[] };
  return body.choices[0]?.message.content ?? '';
}

const docs = ['a contract', 'a memo', 'a novel', 'a recipe', 'a poem'];
const dispatcher = new Dispatcher({ maxWorkers: 8, timeoutMs: 20_000, retry: { retries: 3 } });
const results = await dispatcher.dispatch(docs.map((doc, i) => ({ id: `doc-${i}`, func: summarise, args: [doc] })));
for (const r of results) {
  console.log(r.success ? `${r.taskId} (attempts: ${r.attempts}): ${r.result}` : `${r.taskId} ${r.status}: ${r.error}`);
}
await llm.close();
