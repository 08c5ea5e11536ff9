// Fire-and-forget: submit work as it arrives, carry on, and look the results up later.
import { Dispatcher, type TaskContext } from 'duta';
import { startLlm } from './llm.js';

const llm = await startLlm({ latencyMs: { median: 300, spread: 0.5 } });
const dispatcher = new Dispatcher({ maxWorkers: 4, timeoutMs: 2_000 });

async function classify(ticket: string, { signal }: TaskContext) {
  const { text, totalTokens } = await llm.complete(`Classify this support ticket: ${ticket}`, { signal, maxTokens: 8 });
  return { label: text.length % 2 === 0 ? 'billing' : 'technical', tokens: totalTokens };
}

// Tickets arrive one by one; submit() returns the id at once and the call runs in the background.
const ids = ['refund please', 'app crashes on login', 'change my plan', 'VIP: outage!'].map((ticket, i) =>
  dispatcher.submit({ id: `ticket-${i + 1}`, func: classify, args: [ticket], priority: ticket.startsWith('VIP') ? 10 : 0 }),
);
console.log(`submitted ${ids.join(', ')}; ${dispatcher.pendingCount} queued (they start on the next microtask)`);

// Poll without waiting: undefined until the task has finished.
console.log('ticket-1 right away:', dispatcher.getResult('ticket-1'));

// Or wait for one in particular.
const vip = await dispatcher.waitFor<{ label: string; tokens: number }>('ticket-4');
console.log('ticket-4:', vip.success ? vip.result : vip.error);

// Before the process (or the serverless handler) returns, let the rest finish.
await dispatcher.shutdown();
for (const [id, r] of dispatcher.results) {
  console.log(`${id}: ${r.status} in ${r.durationMs.toFixed(0)} ms`);
}
await llm.close();
