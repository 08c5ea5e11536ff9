// The runtime smoke test: the same checks on every runtime (Node, Bun, Deno, workerd, the edge runtime).
// It uses only what a task would: a Dispatcher and web-standard APIs. Returns the failures, [] when all hold.
import { Dispatcher } from '../dist/esm/index.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function smoke() {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) {
      failures.push(what);
    }
  };

  // Priorities: tasks queued in one go start highest priority first, then in submission order.
  const order = [];
  const ordered = new Dispatcher({ maxWorkers: 1 });
  await ordered.dispatch(
    [['low', 0], ['high', 5], ['mid', 2], ['high2', 5]].map(([id, priority]) => ({ id, priority, func: () => { order.push(id); } })),
  );
  check(order.join() === 'high,high2,mid,low', `priority order: ${order.join()}`);

  // A timeout aborts the task's signal with a TimeoutError and records the result then.
  let signal;
  const [timedOut] = await new Dispatcher({ timeoutMs: 20 }).dispatch([
    {
      id: 'slow',
      func: (ctx) => {
        signal = ctx.signal;
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      },
    },
  ]);
  check(timedOut.status === 'timeout', `timeout status: ${timedOut.status}`);
  check(signal?.aborted === true && signal.reason?.name === 'TimeoutError', `timeout reason: ${signal?.reason?.name}`);

  // Cancelling a batch: queued tasks never start, running ones see their signal abort.
  const controller = new AbortController();
  const started = [];
  const cancelling = new Dispatcher({ maxWorkers: 1 }).dispatch(
    ['a', 'b'].map((id) => ({
      id,
      func: (ctx) => {
        started.push(id);
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      },
    })),
    { signal: controller.signal },
  );
  await sleep(5);
  controller.abort(new Error('user left'));
  const cancelled = await cancelling;
  check(cancelled.map((r) => r.status).join() === 'cancelled,cancelled', `cancel: ${cancelled.map((r) => r.status).join()}`);
  check(started.join() === 'a', `cancelled task started: ${started.join()}`);

  // A retry after a 503 goes back through the queue and succeeds.
  const [retried] = await new Dispatcher({ retry: { retries: 2, minDelayMs: 1 } }).dispatch([
    { id: 'flaky', func: (ctx) => (ctx.attempt === 1 ? Promise.reject(Object.assign(new Error('busy'), { status: 503 })) : 'ok') },
  ]);
  check(retried.status === 'done' && retried.attempts === 2, `retry: ${retried.status} after ${retried.attempts}`);

  // Results as they finish; leaving the loop cancels the rest.
  const streaming = new Dispatcher({ maxWorkers: 2 });
  let first;
  for await (const r of streaming.stream([
    { id: 'late', func: () => sleep(50) },
    { id: 'early', func: () => sleep(1) },
  ])) {
    first = r.taskId;
    break;
  }
  check(first === 'early', `stream first: ${first}`);
  await streaming.onIdle();
  check(streaming.getResult('late')?.status === 'cancelled', `stream break: ${streaming.getResult('late')?.status}`);

  // submit and waitFor, and an idle dispatcher with nothing pending.
  const background = new Dispatcher();
  const id = background.submit({ id: 'bg', func: async () => 42 });
  const waited = await background.waitFor(id);
  check(waited.result === 42, `waitFor: ${waited.result}`);
  check(background.activeCount + background.pendingCount === 0, 'idle after waitFor');
  return failures;
}
