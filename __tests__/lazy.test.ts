import { describe, expect, test } from '@jest/globals';
import { Dispatcher, dispatchParallel, TaskIdError, type TaskLike } from '../src/index.js';
import { deferred, flush, untilAborted } from './helpers.js';

/** A generator of `n` tasks that counts how many were read and whether it was closed. */
function counted(n: number, make: (i: number) => TaskLike = (i) => ({ id: `t${i}`, func: () => i })) {
  const state = { read: 0, closed: false };
  function* tasks(): Generator<TaskLike> {
    try {
      for (let i = 0; i < n; i++) {
        state.read++;
        yield make(i);
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, tasks: tasks() };
}

describe('tasks from an iterable', () => {
  test('dispatch reads a generator only as slots free, and resolves with every result in input order', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const gates = Array.from({ length: 100 }, () => deferred<number>());
    const { state, tasks } = counted(100, (i) => ({ id: `t${i}`, func: () => gates[i]?.promise }));
    const results = d.dispatch(tasks);
    await flush();
    // Two running and a small read-ahead: nowhere near the hundred.
    expect(state.read).toBeGreaterThanOrEqual(2);
    expect(state.read).toBeLessThanOrEqual(2 + 16 + 1);
    gates.forEach((gate, i) => gate.resolve(i));
    const all = await results;
    expect(all.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(state.read).toBe(100);
  });

  test('stream reads an async generator lazily and yields each result with its index', async () => {
    const d = new Dispatcher({ maxWorkers: 3 });
    let read = 0;
    async function* tasks() {
      for (let i = 0; i < 50; i++) {
        read++;
        await Promise.resolve();
        yield { id: `a${i}`, func: async () => i * 2 };
      }
    }
    const seen = new Map<number, unknown>();
    for await (const r of d.stream(tasks())) {
      seen.set(r.index, r.result);
      // Never more read than running, finished and a small read-ahead.
      expect(read).toBeLessThanOrEqual(seen.size + 3 + 16 + 1);
    }
    expect([...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
  });

  test('a break stops reading, closes the iterator and cancels the unfinished tasks', async () => {
    const d = new Dispatcher({ maxWorkers: 2, abortGraceMs: 10 });
    // Task 0 ends at once; the others wait until they are aborted.
    const { state, tasks } = counted(1_000, (i) => ({ id: `t${i}`, func: i === 0 ? () => 0 : untilAborted }));
    for await (const r of d.stream(tasks)) {
      expect(r.index).toBe(0);
      break;
    }
    expect(state.closed).toBe(true);
    expect(state.read).toBeLessThan(40);
    await d.onIdle();
    expect(d.activeCount + d.pendingCount).toBe(0);
  });

  test('an iterator that throws ends the run with its error, and every task it started still ends in one result', async () => {
    const d = new Dispatcher({ maxWorkers: 2 });
    const settled: string[] = [];
    d.on('settle', (r) => settled.push(`${r.taskId}:${r.status}`));
    function* tasks(): Generator<TaskLike> {
      yield { id: 'a', func: () => new Promise(() => {}) };
      yield { id: 'b', func: () => 'b' };
      throw new Error('the source broke');
    }
    await expect(d.dispatch(tasks())).rejects.toThrow('the source broke');
    await d.onIdle();
    expect(settled.sort()).toEqual(['a:cancelled', 'b:cancelled']);
  });

  test('an invalid task names its index; the stream throws it after the results before it', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    function* tasks(): Generator<unknown> {
      yield { id: 'ok', func: () => 1 };
      yield { id: 'bad', func: 'not a function' };
    }
    const stream = d.stream(tasks() as Iterable<TaskLike>);
    const message = 'Expected `tasks[1].func` to be a function, got "not a function" (string)';
    // Both were read at once: the first is cancelled by the second's error before it could start.
    await expect(stream.next()).resolves.toMatchObject({ value: { taskId: 'ok', status: 'cancelled', error: `task "ok" was cancelled: ${message}` } });
    await expect(stream.next()).rejects.toThrow(message);
    await expect(stream.next()).resolves.toEqual({ done: true, value: undefined });
  });

  test('an id repeated while its task is unfinished names both indexes; a finished one may come again', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const gate = deferred();
    const repeated = d.dispatch((function* () {
      yield { id: 'x', func: () => gate.promise };
      yield { id: 'x', func: () => 2 };
    })());
    await expect(repeated).rejects.toThrow(new TaskIdError('x', 'is repeated in the batch (tasks[0] and tasks[1])'));
    gate.resolve();
    const again = await d.dispatch((function* () {
      yield { id: 'y', func: () => 1 };
    })());
    expect(again.map((r) => r.status)).toEqual(['done']);
  });

  test('aborting the call\'s signal stops reading and resolves with the results of the tasks read', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const controller = new AbortController();
    const { state, tasks } = counted(1_000, (i) => ({ id: `t${i}`, func: () => new Promise(() => {}) }));
    const results = d.dispatch(tasks, { signal: controller.signal });
    await flush();
    controller.abort(new Error('enough'));
    const all = await results;
    expect(all.length).toBe(state.read);
    expect(all.every((r) => r.status === 'cancelled')).toBe(true);
    expect(state.closed).toBe(true);
  });

  test('an empty iterable resolves to no results; a string or a number is not a list of tasks', async () => {
    const d = new Dispatcher();
    await expect(d.dispatch(new Set<TaskLike>())).resolves.toEqual([]);
    await expect(d.dispatch('abc' as never)).rejects.toThrow(new TypeError('Expected `tasks` to be an array, an iterable or an async iterable, got "abc" (string)'));
    expect(() => d.stream(42 as never)).toThrow(TypeError);
  });

  test('dispatchParallel takes an async iterable of items, in order, failing fast', async () => {
    const double = dispatchParallel({ maxWorkers: 4 })(async (n: number) => n * 2);
    async function* numbers() {
      for (let i = 0; i < 30; i++) {
        yield i;
      }
    }
    await expect(double(numbers())).resolves.toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    const failing = dispatchParallel({ maxWorkers: 2 })((n: number) => {
      if (n === 3) {
        throw new Error('three');
      }
      return n;
    });
    await expect(failing(new Set([1, 2, 3, 4]))).rejects.toThrow('Task "task#2" (item 2) failed: three');
  });
});
