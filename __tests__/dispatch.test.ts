import { describe, expect, test } from '@jest/globals';
import { Dispatcher, Task, TaskIdError } from '../src/index.js';
import { countListeners, deferred, flush, untilAborted } from './helpers.js';

describe('dispatch', () => {
  test('resolves with one result per task in input order, whatever order they finish in', async () => {
    const d = new Dispatcher({ maxWorkers: 3 });
    const gates = [deferred<string>(), deferred<string>(), deferred<string>()];
    const pending = d.dispatch(gates.map((gate, i) => ({ id: `t${i}`, func: () => gate.promise })));
    await flush();
    gates[2]?.resolve('c');
    gates[0]?.resolve('a');
    gates[1]?.resolve('b');
    const results = await pending;
    expect(results.map((r) => r.taskId)).toEqual(['t0', 't1', 't2']);
    expect(results.map((r) => r.result)).toEqual(['a', 'b', 'c']);
  });

  test('passes args then the context to func', async () => {
    const d = new Dispatcher();
    const seen: unknown[][] = [];
    await d.dispatch([
      {
        id: 'x',
        func: (a: number, b: string, ctx: { taskId: string; attempt: number; signal: AbortSignal }) => {
          seen.push([a, b, ctx.taskId, ctx.attempt, ctx.signal instanceof AbortSignal, ctx.signal.aborted]);
        },
        args: [1, 'two'],
      },
    ]);
    expect(seen).toEqual([[1, 'two', 'x', 1, true, false]]);
  });

  test('the context shows taskId, attempt and signal only, and nothing that could abort the task', async () => {
    const d = new Dispatcher();
    const [result] = await d.dispatch([{ id: 'x', func: (ctx: object) => ({ keys: Object.keys(ctx), abort: 'abort' in ctx }) }]);
    expect(result?.result).toEqual({ keys: ['taskId', 'attempt'], abort: false });
  });

  test('a result whose `then` getter throws, or a thenable that rejects, ends as failed', async () => {
    const d = new Dispatcher();
    const results = await d.dispatch([
      {
        id: 'getter',
        func: () => ({
          get then(): never {
            throw new Error('then getter');
          },
        }),
      },
      { id: 'thenable', func: () => ({ then: (_: unknown, reject: (e: unknown) => void) => reject(new Error('nope')) }) },
      { id: 'plain', func: () => ({ then: 42 }) },
    ]);
    expect(results.map((r) => [r.status, r.error])).toEqual([
      ['failed', 'then getter'],
      ['failed', 'nope'],
      ['done', null],
    ]);
  });

  test('never rejects because tasks failed; every failure is a result with a message', async () => {
    const d = new Dispatcher();
    const results = await d.dispatch([
      { id: 'ok', func: async () => 42 },
      { id: 'throws', func: () => { throw new Error('sync boom'); } },
      { id: 'rejects', func: async () => { throw new TypeError('async boom'); } },
      { id: 'string', func: async () => { throw 'a string'; } },
      { id: 'undefined', func: () => Promise.reject(undefined) },
      { id: 'number', func: () => Promise.reject(7) },
      { id: 'empty-message', func: () => Promise.reject(new Error('')) },
      { id: 'null-proto', func: () => Promise.reject(Object.create(null)) },
    ]);
    expect(results.map((r) => [r.status, r.error])).toEqual([
      ['done', null],
      ['failed', 'sync boom'],
      ['failed', 'async boom'],
      ['failed', 'a string'],
      ['failed', 'task "undefined" failed with undefined'],
      ['failed', 'task "number" failed with 7'],
      ['failed', 'task "empty-message" failed with Error'],
      ['failed', 'task "null-proto" failed with object'],
    ]);
    const failure = results[2];
    expect(failure?.success === false && failure.cause).toBeInstanceOf(TypeError);
  });

  test('a failure narrows to a result of null and a cause that JSON leaves out', async () => {
    const d = new Dispatcher();
    const [r] = await d.dispatch([{ id: 'f', func: async () => { throw new Error('nope'); } }]);
    if (r === undefined || r.success) {
      throw new Error('expected a failure');
    }
    expect(r.result).toBeNull();
    expect(Object.keys(r)).not.toContain('cause');
    expect((r.cause as Error).message).toBe('nope');
    expect(JSON.parse(JSON.stringify(r))).toEqual({
      taskId: 'f',
      success: false,
      status: 'failed',
      result: null,
      error: 'nope',
      durationMs: r.durationMs,
      attempts: 1,
      attemptErrors: ['nope'],
    });
  });

  test('a cause that cannot be serialised still leaves the result serialisable', async () => {
    const d = new Dispatcher();
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const [r] = await d.dispatch([{ id: 'c', func: () => Promise.reject(cyclic) }]);
    expect(() => JSON.stringify(r)).not.toThrow();
    expect(r?.error).toBe('task "c" failed with [object Object]');
  });

  test('an empty list resolves to an empty list', async () => {
    await expect(new Dispatcher().dispatch([])).resolves.toEqual([]);
  });

  const invalidBatches: [string, unknown, abstract new (...args: never[]) => Error, RegExp | string][] = [
    ['a task without an id', [{ func: () => 1 }], TypeError, /tasks\[1\]\.id/],
    ['a task with an empty id', [{ id: '', func: () => 1 }], RangeError, /tasks\[1\]\.id/],
    ['a task without a func', [{ id: 'a' }], TypeError, /tasks\[1\]\.func/],
    ['duplicate ids', [{ id: 'a', func: () => 1 }, { id: 'a', func: () => 2 }], TaskIdError, 'Task id "a" is repeated in the batch (tasks[1] and tasks[2])'],
    ['a list that is not an array', 'nope', TypeError, /`tasks`/],
  ];
  test.each(invalidBatches)('rejects %s before running anything', async (_, tasks, kind, message) => {
    const d = new Dispatcher();
    let ran = false;
    const valid = { id: 'valid', func: () => { ran = true; } };
    const input = Array.isArray(tasks) ? [valid, ...tasks] : tasks;
    await expect(d.dispatch(input as never)).rejects.toThrow(kind);
    await expect(d.dispatch(input as never)).rejects.toThrow(message);
    await flush();
    expect(ran).toBe(false);
    expect(d.pendingCount).toBe(0);
  });

  test('rejects an id that is still running in this dispatcher', async () => {
    const d = new Dispatcher();
    const gate = deferred();
    d.submit({ id: 'busy', func: () => gate.promise });
    await expect(d.dispatch([{ id: 'busy', func: () => 1 }])).rejects.toThrow(TaskIdError);
    gate.resolve();
    await d.waitFor('busy');
    await expect(d.dispatch([{ id: 'busy', func: () => 1 }])).resolves.toHaveLength(1);
  });

  test('keeps a Task instance up to date as it runs', async () => {
    const d = new Dispatcher();
    const gate = deferred<string>();
    const task = new Task({ id: 'tracked', func: function answer() { return gate.promise; } });
    expect(task.status).toBe('pending');
    const pending = d.dispatch([task]);
    await flush();
    expect(task.status).toBe('running');
    gate.resolve('value');
    await pending;
    expect(task.toJSON()).toEqual({
      id: 'tracked',
      func: 'answer',
      args: [],
      priority: 0,
      status: 'done',
      result: 'value',
      error: null,
      durationMs: expect.any(Number),
    });
  });
});

describe('dispatch with a signal', () => {
  test('aborting it cancels queued tasks, which never start, and aborts running ones', async () => {
    const d = new Dispatcher({ maxWorkers: 1, abortGraceMs: 1_000 });
    const controller = new AbortController();
    const started: string[] = [];
    const track = (id: string) => (ctx: { signal: AbortSignal }) => {
      started.push(id);
      return untilAborted(ctx);
    };
    const pending = d.dispatch(
      [
        { id: 'running', func: track('running') },
        { id: 'queued', func: track('queued') },
      ],
      { signal: controller.signal },
    );
    await flush();
    controller.abort(new Error('user gave up'));
    const results = await pending;
    await flush();
    expect(started).toEqual(['running']);
    expect(results.map((r) => [r.taskId, r.status, r.error])).toEqual([
      ['running', 'cancelled', 'task "running" was cancelled: user gave up'],
      ['queued', 'cancelled', 'task "queued" was cancelled: user gave up'],
    ]);
    expect(results[1]?.durationMs).toBe(0);
    expect((results[0] as { cause: unknown }).cause).toEqual(new Error('user gave up'));
  });

  test('an already aborted signal cancels every task without running any', async () => {
    const d = new Dispatcher();
    let ran = false;
    const results = await d.dispatch([{ id: 'a', func: () => { ran = true; } }], { signal: AbortSignal.abort() });
    await flush();
    expect(ran).toBe(false);
    expect(results[0]?.status).toBe('cancelled');
    expect(d.pendingCount).toBe(0);
  });

  test('aborting after the batch finished changes nothing and leaves no listener', async () => {
    const d = new Dispatcher();
    const controller = new AbortController();
    const listeners = countListeners(controller.signal);
    const results = await d.dispatch([{ id: 'a', func: async () => 1 }], { signal: controller.signal });
    expect(listeners.count()).toBe(0);
    controller.abort();
    expect(results[0]?.status).toBe('done');
    expect(d.getResult('a')?.status).toBe('done');
  });

  test('rejects a signal that is not an AbortSignal', async () => {
    await expect(new Dispatcher().dispatch([], { signal: {} as AbortSignal })).rejects.toThrow(
      'Expected `options.signal` to be an AbortSignal, got an object (object)',
    );
  });
});
