// A timeout that really cancels: the task hands ctx.signal to the SDK, so when duta times the task out
// the HTTP request is closed — and the server, not the client, says so.
import { Dispatcher, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

// Half the requests hang forever, as an overloaded provider's sometimes do.
const llm = await startLlm({ latencyMs: 200, hangRate: 0.5, seed: 3 });
const dispatcher = new Dispatcher({ maxWorkers: 4, timeoutMs: 1_000 });

const results = await dispatcher.dispatch(
  Array.from({ length: 8 }, (_, i) => ({
    id: `call-${i}`,
    func: async ({ signal }: TaskContext) => (await llm.complete(`Question ${i}`, { signal })).text,
  })),
);
for (const r of results) {
  console.log(`${r.taskId}: ${r.status}${r.success ? '' : ` — ${r.error}`}`);
}

// Give the sockets a moment to close, then ask the server what it saw.
await new Promise((resolve) => setTimeout(resolve, 50));
const { requests, clientAborted, inFlight } = llm.server.stats();
const timedOut = results.filter((r) => r.status === 'timeout').length;
console.log(`\n${timedOut} tasks timed out; the server saw ${requests} requests, ${clientAborted} closed by the client, ${inFlight} still open`);
await llm.close();
