import { describe, expect, test } from '@jest/globals';
import { Dispatcher } from '../src/index.js';
import { type Deferred, deferred, flush } from './helpers.js';

/** Tasks that each wait for their own gate, recording starts and the peak number running at once. */
function gatedTasks(ids: readonly string[], priorities: readonly number[] = []) {
  const gates = new Map<string, Deferred<string>>();
  const started: string[] = [];
  let running = 0;
  let peak = 0;
  const tasks = ids.map((id, i) => {
    const gate = deferred<string>();
    gates.set(id, gate);
    return {
      id,
      priority: priorities[i] ?? 0,
      func: async () => {
        started.push(id);
        running++;
        peak = Math.max(peak, running);
        try {
          return await gate.promise;
        } finally {
          running--;
        }
      },
    };
  });
  const open = (id: string) => gates.get(id)?.resolve(id);
  return { tasks, started, open, peak: () => peak, running: () => running };
}

const ids = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('concurrency', () => {
  test('never runs more than maxWorkers at once, and reaches it', async () => {
    const d = new Dispatcher({ maxWorkers: 3 });
    const work = gatedTasks(ids(10));
    const pending = d.dispatch(work.tasks);
    await flush();
    expect(work.running()).toBe(3);
    expect(d.activeCount).toBe(3);
    expect(d.pendingCount).toBe(7);
    for (const id of ids(10)) {
      work.open(id);
      await flush();
      expect(work.running()).toBeLessThanOrEqual(3);
    }
    await pending;
    expect(work.peak()).toBe(3);
    expect(d.activeCount).toBe(0);
    expect(d.pendingCount).toBe(0);
  });

  test('a freed slot starts the next queued task', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const work = gatedTasks(['a', 'b', 'c']);
    const pending = d.dispatch(work.tasks);
    await flush();
    expect(work.started).toEqual(['a', 'b']);
    work.open('b');
    await flush();
    expect(work.started).toEqual(['a', 'b', 'c']);
    work.open('a');
    work.open('c');
    await pending;
  });

  test('Infinity runs everything at once', async () => {
    const d = new Dispatcher({ maxWorkers: Infinity });
    const work = gatedTasks(ids(50));
    const pending = d.dispatch(work.tasks);
    await flush();
    expect(work.running()).toBe(50);
    ids(50).forEach(work.open);
    await pending;
  });

  test('raising maxWorkers at run time starts queued tasks at once', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const work = gatedTasks(ids(5));
    const pending = d.dispatch(work.tasks);
    await flush();
    expect(work.running()).toBe(1);
    d.maxWorkers = 4;
    expect(d.maxWorkers).toBe(4);
    await flush();
    expect(work.running()).toBe(4);
    ids(5).forEach(work.open);
    await pending;
    expect(work.peak()).toBe(4);
  });

  test('lowering maxWorkers lets running tasks finish and starts no more until under the new cap', async () => {
    const d = new Dispatcher({ maxWorkers: 4 });
    const work = gatedTasks(ids(8));
    const pending = d.dispatch(work.tasks);
    await flush();
    d.maxWorkers = 2;
    work.open('t0');
    work.open('t1');
    await flush();
    // Two of the four first tasks are still running: at the new cap, so nothing new starts.
    expect(work.started).toEqual(['t0', 't1', 't2', 't3']);
    expect(work.running()).toBe(2);
    work.open('t2');
    await flush();
    expect(work.started).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(work.running()).toBe(2);
    ids(8).forEach(work.open);
    await pending;
  });

  test('rejects an invalid maxWorkers set at run time and keeps the old one', () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    expect(() => {
      d.maxWorkers = 0;
    }).toThrow(RangeError);
    expect(() => {
      d.maxWorkers = '3' as unknown as number;
    }).toThrow(TypeError);
    expect(d.maxWorkers).toBe(2);
  });
});

describe('priority', () => {
  test('tasks submitted in one synchronous block start by priority, then submission order', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const work = gatedTasks(['low', 'high', 'mid', 'high2', 'neg'], [0, 10, 5, 10, -1]);
    const pending = d.dispatch(work.tasks);
    for (const id of ['high', 'high2', 'mid', 'low', 'neg']) {
      await flush();
      work.open(id);
    }
    await pending;
    expect(work.started).toEqual(['high', 'high2', 'mid', 'low', 'neg']);
  });

  test('a higher-priority task submitted later overtakes queued ones, across submit and dispatch', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const blocker = gatedTasks(['blocker']);
    d.submit(blocker.tasks[0] as (typeof blocker.tasks)[0]);
    await flush();
    const batch = gatedTasks(['b1', 'b2']);
    const pending = d.dispatch(batch.tasks);
    const urgent = gatedTasks(['urgent'], [1]);
    d.submit(urgent.tasks[0] as (typeof urgent.tasks)[0]);
    const later = gatedTasks(['later']);
    d.submit(later.tasks[0] as (typeof later.tasks)[0]);
    const order: string[] = [];
    for (const [work, id] of [[blocker, 'blocker'], [urgent, 'urgent'], [batch, 'b1'], [batch, 'b2'], [later, 'later']] as const) {
      await flush();
      order.push(...work.started.filter((s) => s === id));
      work.open(id);
    }
    await pending;
    await d.shutdown();
    expect(order).toEqual(['blocker', 'urgent', 'b1', 'b2', 'later']);
  });

  test('many distinct priorities still come out highest first', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const priorities = Array.from({ length: 200 }, (_, i) => (i * 7919) % 200);
    const order: number[] = [];
    await d.dispatch(priorities.map((priority, i) => ({ id: `p${i}`, priority, func: () => order.push(priority) })));
    expect(order).toEqual([...priorities].sort((a, b) => b - a));
  });
});
