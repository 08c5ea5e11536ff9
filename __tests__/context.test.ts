import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, test } from '@jest/globals';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { deferred, flush } from './helpers.js';

// The core imports no `node:` module; the test uses Node's AsyncLocalStorage to watch the context.
const als = new AsyncLocalStorage<string>();

describe('async context', () => {
  test('a queued dispatch runs in its caller\'s context, though its tasks start behind another caller\'s work', async () => {
    const d = new Dispatcher({ maxWorkers: 1, submitContext: true });
    const seen: [string, string | undefined][] = [];
    const gate = deferred();
    const task = (id: string, wait = false) => ({
      id,
      func: async () => {
        seen.push([id, als.getStore()]);
        if (wait) {
          await gate.promise;
        }
        seen.push([`${id} after await`, als.getStore()]);
      },
    });
    const first = als.run('caller A', () => d.dispatch([task('a1', true), task('a2')]));
    await flush();
    const second = als.run('caller B', () => d.dispatch([task('b1'), task('b2')]));
    const third = als.run('caller C', () => d.submit(task('c1')));
    gate.resolve();
    await Promise.all([first, second, d.waitFor(third)]);
    expect(seen).toEqual([
      ['a1', 'caller A'],
      ['a1 after await', 'caller A'],
      ['a2', 'caller A'],
      ['a2 after await', 'caller A'],
      ['b1', 'caller B'],
      ['b1 after await', 'caller B'],
      ['b2', 'caller B'],
      ['b2 after await', 'caller B'],
      ['c1', 'caller C'],
      ['c1 after await', 'caller C'],
    ]);
  });

  test('without submitContext, a submitted task runs in the context the dispatcher was made in, never in another caller\'s', async () => {
    const d = als.run('home', () => new Dispatcher({ maxWorkers: 1 }));
    const seen: string[] = [];
    const func = async (ctx: TaskContext) => {
      seen.push(`${ctx.taskId}:${als.getStore()}`);
      await Promise.resolve();
      seen.push(`${ctx.taskId} after await:${als.getStore()}`);
    };
    // A batch first, so the slot has been running in caller A's context when the submits start.
    const batch = als.run('caller A', () => d.dispatch([{ id: 'a', func }]));
    const ids = ['x', 'y'].map((id) => als.run(`caller ${id}`, () => d.submit({ id, func })));
    await Promise.all([batch, ...ids.map((id) => d.waitFor(id))]);
    expect(seen).toEqual(['a:caller A', 'a after await:caller A', 'x:home', 'x after await:home', 'y:home', 'y after await:home']);
  });

  test('each submit keeps its own context, and a retry runs in it again', async () => {
    const d = new Dispatcher({ maxWorkers: 2, submitContext: true, retry: { retries: 1, minDelayMs: 1, jitter: 'none' } });
    const seen: string[] = [];
    const ids = ['x', 'y', 'z'].map((name) =>
      als.run(`ctx ${name}`, () =>
        d.submit({
          id: name,
          func: (ctx: TaskContext) => {
            seen.push(`${name}#${ctx.attempt}:${als.getStore()}`);
            if (ctx.attempt === 1) {
              throw Object.assign(new Error('retry me'), { status: 503 });
            }
          },
        }),
      ),
    );
    await Promise.all(ids.map((id) => d.waitFor(id)));
    expect(seen.sort()).toEqual(['x#1:ctx x', 'x#2:ctx x', 'y#1:ctx y', 'y#2:ctx y', 'z#1:ctx z', 'z#2:ctx z']);
  });

  test('outside any context, tasks see none', async () => {
    const d = new Dispatcher();
    const [r] = await d.dispatch([{ id: 'a', func: () => als.getStore() ?? 'none' }]);
    expect(r?.result).toBe('none');
  });
});
