import { describe, expect, test } from '@jest/globals';
import { Task } from '../src/index.js';

describe('Task', () => {
  test('takes defaults for args and priority and starts pending', () => {
    const task = new Task({ id: 't', func: function ping() { return 'pong'; } });
    expect(task).toMatchObject({ id: 't', args: [], priority: 0, timeoutMs: undefined, status: 'pending', result: null, error: null, durationMs: null });
  });

  test('toJSON gives the function name and the current state, and survives JSON.stringify', () => {
    const task = new Task({ id: 't', func: function lookup(key: string) { return key; }, args: ['k'], priority: 3, timeoutMs: 50 });
    expect(JSON.parse(JSON.stringify(task))).toEqual({
      id: 't',
      func: 'lookup',
      args: ['k'],
      priority: 3,
      status: 'pending',
      result: null,
      error: null,
      durationMs: null,
    });
  });

  test('toJSON names an anonymous function "anonymous"', () => {
    const [anonymous] = [() => 1];
    const task = new Task({ id: 'a', func: anonymous as () => number });
    Object.defineProperty(anonymous, 'name', { value: '' });
    expect(task.toJSON().func).toBe('anonymous');
  });
});
