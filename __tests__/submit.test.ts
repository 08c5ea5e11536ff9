import { describe, expect, test } from '@jest/globals';
import { Dispatcher, Task, TaskIdError } from '../src/index.js';
import { deferred, flush } from './helpers.js';

describe('submit, getResult and waitFor', () => {
  test('submit returns the id at once and the task runs in the background', async () => {
    const d = new Dispatcher();
    const gate = deferred<number>();
    const id = d.submit({ id: 'job-1', func: () => gate.promise });
    expect(id).toBe('job-1');
    expect(d.getResult('job-1')).toBeUndefined();
    await flush();
    expect(d.activeCount).toBe(1);
    gate.resolve(5);
    await expect(d.waitFor('job-1')).resolves.toMatchObject({ taskId: 'job-1', success: true, result: 5 });
    expect(d.getResult('job-1')).toMatchObject({ status: 'done', result: 5 });
  });

  test('waitFor resolves for a task that already finished, and for every caller', async () => {
    const d = new Dispatcher();
    d.submit({ id: 'a', func: async () => 'A' });
    const [first, second] = await Promise.all([d.waitFor('a'), d.waitFor('a')]);
    expect(first).toBe(second);
    await expect(d.waitFor('a')).resolves.toBe(first);
  });

  test('waitFor rejects for an id this dispatcher never saw', async () => {
    await expect(new Dispatcher().waitFor('ghost')).rejects.toThrow(TaskIdError);
    await expect(new Dispatcher().waitFor('ghost')).rejects.toThrow('Task id "ghost" is unknown');
  });

  test('getResult is undefined for an unknown id', () => {
    expect(new Dispatcher().getResult('nope')).toBeUndefined();
  });

  test('submit throws at once for an invalid task', () => {
    const d = new Dispatcher();
    expect(() => d.submit({ id: 'x' } as never)).toThrow('Expected `task.func` to be a function, got undefined (undefined)');
    expect(() => d.submit(null as never)).toThrow(TypeError);
    expect(() => d.submit({ id: 'x', func: () => 1, priority: Number.NaN })).toThrow(RangeError);
    expect(d.pendingCount).toBe(0);
  });

  test('submit throws for an id that is pending or running, and accepts it again once finished', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const gate = deferred();
    d.submit({ id: 'running', func: () => gate.promise });
    d.submit({ id: 'queued', func: () => 'q' });
    expect(() => d.submit({ id: 'running', func: () => 1 })).toThrow(TaskIdError);
    expect(() => d.submit({ id: 'queued', func: () => 1 })).toThrow('Task id "queued" is already pending or running');
    gate.resolve();
    await d.waitFor('queued');
    expect(d.getResult('queued')?.result).toBe('q');
    d.submit({ id: 'queued', func: () => 'again' });
    // The old result is dropped at resubmission.
    expect(d.getResult('queued')).toBeUndefined();
    await expect(d.waitFor('queued')).resolves.toMatchObject({ result: 'again' });
  });

  test('a failing fire-and-forget task is recorded, and nothing else happens', async () => {
    const d = new Dispatcher();
    d.submit({ id: 'bad', func: async () => { throw new Error('nobody listens'); } });
    await flush();
    expect(d.getResult('bad')).toMatchObject({ status: 'failed', error: 'nobody listens' });
  });

  test('a Task instance is accepted and reset when submitted again', async () => {
    const d = new Dispatcher();
    let calls = 0;
    const task = new Task({ id: 'twice', func: (n: number) => n + ++calls, args: [10] });
    d.submit(task);
    await d.waitFor('twice');
    expect(task.result).toBe(11);
    d.submit(task);
    expect(task.status).toBe('pending');
    expect(task.result).toBeNull();
    await d.waitFor('twice');
    expect(task.result).toBe(12);
  });
});

describe('dispatchNowait', () => {
  test('returns a promise per id at once, each resolving with its result', async () => {
    const d = new Dispatcher({ maxWorkers: 1 });
    const gate = deferred<string>();
    const promises = d.dispatchNowait([
      { id: 'a', func: () => gate.promise },
      { id: 'b', func: async () => { throw new Error('b failed'); } },
    ]);
    expect([...promises.keys()]).toEqual(['a', 'b']);
    gate.resolve('A');
    await expect(promises.get('a')).resolves.toMatchObject({ success: true, result: 'A' });
    await expect(promises.get('b')).resolves.toMatchObject({ success: false, error: 'b failed' });
  });

  test('throws at once on invalid input, before queueing anything', () => {
    const d = new Dispatcher();
    expect(() => d.dispatchNowait([{ id: 'ok', func: () => 1 }, { id: 'ok', func: () => 2 }])).toThrow(TaskIdError);
    expect(d.pendingCount).toBe(0);
    expect(d.getResult('ok')).toBeUndefined();
  });
});

describe('results', () => {
  test('holds finished results from submit and dispatch alike', async () => {
    const d = new Dispatcher();
    d.submit({ id: 's', func: () => 's' });
    await d.dispatch([{ id: 'd', func: () => 'd' }]);
    await d.waitFor('s');
    expect([...d.results.keys()].sort()).toEqual(['d', 's']);
    expect(d.results.get('d')).toBe(d.getResult('d'));
  });

  test('keeps at most maxResults, evicting the oldest first', async () => {
    const d = new Dispatcher({ maxResults: 3, maxWorkers: 1 });
    await d.dispatch(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, func: () => id })));
    expect([...d.results.keys()]).toEqual(['c', 'd', 'e']);
    expect(d.getResult('a')).toBeUndefined();
    await expect(d.waitFor('a')).rejects.toThrow(TaskIdError);
  });

  test('eviction stays correct when ids are resubmitted in between', async () => {
    const d = new Dispatcher({ maxResults: 2, maxWorkers: 1 });
    await d.dispatch([{ id: 'a', func: () => 1 }, { id: 'b', func: () => 1 }]);
    await d.dispatch([{ id: 'a', func: () => 2 }]);
    expect([...d.results.keys()]).toEqual(['b', 'a']);
    await d.dispatch([{ id: 'c', func: () => 3 }]);
    expect([...d.results.keys()]).toEqual(['a', 'c']);
    expect(d.getResult('a')?.result).toBe(2);
  });

  test('eviction stays correct across many results', async () => {
    const d = new Dispatcher({ maxResults: 100, maxWorkers: Infinity });
    const n = 50_000;
    await d.dispatch(Array.from({ length: n }, (_, i) => ({ id: `t${i}`, func: () => i })));
    expect(d.results.size).toBe(100);
    expect([...d.results.keys()][0]).toBe(`t${n - 100}`);
  });

  test('results nobody reads stay bounded by maxResults, and the newest are there when read', async () => {
    const d = new Dispatcher({ maxResults: 10, maxWorkers: 4 });
    for (let round = 0; round < 5; round++) {
      await d.dispatch(Array.from({ length: 100 }, (_, i) => ({ id: `r${round}-${i}`, func: () => i })));
    }
    expect(d.results.size).toBe(10);
    expect([...d.results.keys()]).toEqual(Array.from({ length: 10 }, (_, i) => `r4-${90 + i}`));
    expect(d.getResult('r4-99')?.result).toBe(99);
  });

  test('a result finished before its id was accepted again is not shown while the new task runs', async () => {
    const d = new Dispatcher();
    await d.dispatch([{ id: 'x', func: () => 'old' }]);
    const gate = deferred<string>();
    const again = d.dispatch([{ id: 'x', func: () => gate.promise }]);
    // Read only now: the old result was never folded in before the id came back.
    expect(d.getResult('x')).toBeUndefined();
    expect(d.results.has('x')).toBe(false);
    gate.resolve('new');
    await again;
    expect(d.getResult('x')?.result).toBe('new');
  });

  test('Infinity keeps every result', async () => {
    const d = new Dispatcher({ maxResults: Infinity });
    await d.dispatch(Array.from({ length: 20_000 }, (_, i) => ({ id: `t${i}`, func: () => i })));
    expect(d.results.size).toBe(20_000);
  });
});

describe('waitUntil', () => {
  test('each submitted task is handed to waitUntil as a promise of its result, which never rejects', async () => {
    const handed: Promise<unknown>[] = [];
    const d = new Dispatcher({ waitUntil: (p) => handed.push(p) });
    d.submit({ id: 'ok', func: async () => 'fine' });
    d.submit({ id: 'bad', func: async () => { throw new Error('boom'); } });
    await d.dispatch([{ id: 'batch', func: () => 1 }]);
    expect(handed).toHaveLength(2);
    const settled = await Promise.allSettled(handed);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(settled.map((s) => (s as PromiseFulfilledResult<{ status: string }>).value.status)).toEqual(['done', 'failed']);
  });

  test('a waitUntil that throws does not lose the task; a bad waitUntil is a TypeError', async () => {
    const d = new Dispatcher({ waitUntil: () => { throw new Error('platform hook broke'); } });
    const id = d.submit({ id: 'a', func: () => 'still runs' });
    await expect(d.waitFor(id)).resolves.toMatchObject({ status: 'done', result: 'still runs' });
    expect(() => new Dispatcher({ waitUntil: 'yes' as never })).toThrow('Expected `waitUntil` to be a function, got "yes" (string)');
  });
});

describe('waitUntil and dispatchNowait', () => {
  test('a dispatchNowait batch is handed over as one promise that never rejects', async () => {
    const handed: Promise<unknown>[] = [];
    const d = new Dispatcher({ waitUntil: (p) => handed.push(p) });
    d.dispatchNowait([{ id: 'a', func: () => 1 }, { id: 'b', func: () => Promise.reject(new Error('x')) }]);
    expect(handed).toHaveLength(1);
    const results = (await handed[0]) as { status: string }[];
    expect(results.map((r) => r.status)).toEqual(['done', 'failed']);
  });
});
