import { describe, expect, test } from '@jest/globals';
import { dispatchParallel, TaskFailedError, type TaskContext } from '../src/index.js';
import { deferred, flush, untilAborted } from './helpers.js';

describe('dispatchParallel', () => {
  test('runs fn over the items and resolves with its results in order', async () => {
    const double = dispatchParallel({ maxWorkers: 2 })(async function double(n: number) {
      await flush(Math.random() * 5);
      return n * 2;
    });
    await expect(double([1, 2, 3, 4, 5])).resolves.toEqual([2, 4, 6, 8, 10]);
  });

  test('spreads an array item as the arguments and passes any other item as the one argument', async () => {
    const calls: unknown[][] = [];
    const add = dispatchParallel()(function add(a: number, b = 100, ctx?: TaskContext) {
      calls.push([a, b, typeof ctx?.signal]);
      return a + b;
    });
    // A one-argument call as a bare item gets the context in the second slot, so `b` is a context there.
    const parallel = dispatchParallel()((a: number, b: number) => a + b);
    await expect(parallel([[1, 2], [3, 4]])).resolves.toEqual([3, 7]);
    await add([[1, 2]]);
    expect(calls).toEqual([[1, 2, 'object']]);
    const single = dispatchParallel()((s: string, ctx: TaskContext) => `${s}:${ctx.taskId}`);
    await expect(single(['x', 'y'])).resolves.toEqual(['x:task#0', 'y:task#1']);
  });

  test("keeps fn's name", () => {
    async function summarise(doc: string) {
      return doc;
    }
    expect(dispatchParallel()(summarise).name).toBe('summarise');
  });

  test('each call runs its own batch with its own cap', async () => {
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 6 }, () => deferred());
    const work = dispatchParallel({ maxWorkers: 2 })(async (i: number) => {
      running++;
      peak = Math.max(peak, running);
      await gates[i]?.promise;
      running--;
    });
    const both = Promise.all([work([0, 1, 2]), work([3, 4, 5])]);
    await flush();
    expect(running).toBe(4);
    gates.forEach((gate) => gate.resolve());
    await both;
    expect(peak).toBe(4);
  });

  test('fails fast: the first failure rejects with a TaskFailedError and aborts the rest', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const reasons: unknown[] = [];
    const boom = new Error('item two broke');
    const run = dispatchParallel({ maxWorkers: 2 })(async function fetchItem(i: number, ctx: TaskContext) {
      started.push(i);
      if (i === 1) {
        await flush(3);
        throw boom;
      }
      ctx.signal.addEventListener('abort', () => {
        aborted.push(i);
        reasons.push(ctx.signal.reason);
      });
      return untilAborted(ctx);
    });
    const error = await run([0, 1, 2, 3]).catch((e: unknown) => e);
    await flush();
    expect(error).toBeInstanceOf(TaskFailedError);
    const failed = error as TaskFailedError;
    expect(failed.taskId).toBe('fetchItem#1');
    expect(failed.index).toBe(1);
    expect(failed.cause).toBe(boom);
    expect(failed.message).toBe('Task "fetchItem#1" (item 1) failed: item two broke');
    // The queued items never start; every other item that did start sees its signal abort.
    expect(started.slice(0, 2)).toEqual([0, 1]);
    expect(started).not.toContain(3);
    expect(aborted.sort()).toEqual(started.filter((i) => i !== 1).sort());
    expect(reasons.every((reason) => reason instanceof DOMException && reason.name === 'AbortError')).toBe(true);
    expect((reasons[0] as DOMException | undefined)?.message).toBe(failed.message);
  });

  test('a timeout counts as a failure', async () => {
    const run = dispatchParallel({ timeoutMs: 20 })(function wait(ms: number, ctx: TaskContext) {
      return ms > 1_000 ? untilAborted(ctx) : ms;
    });
    await expect(run([1, 5_000])).rejects.toThrow('Task "wait#1" (item 1) failed: task "wait#1" timed out after 20 ms');
  });

  test('validates its options at once and its items per call', async () => {
    expect(() => dispatchParallel({ maxWorkers: 0 })).toThrow(RangeError);
    expect(() => dispatchParallel()('nope' as never)).toThrow('Expected `fn` to be a function');
    const run = dispatchParallel()((n: number) => n);
    await expect(run('1,2' as never)).rejects.toThrow(TypeError);
  });

  test('an empty list resolves to an empty list', async () => {
    await expect(dispatchParallel()((n: number) => n)([])).resolves.toEqual([]);
  });
});
