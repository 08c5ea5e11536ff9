import { describe, expect, test } from '@jest/globals';
import { Dispatcher, Task } from '../src/index.js';

// Every public option and task field with a wrong type and a bad value: a TypeError or RangeError that
// names the field and shows the value, thrown before any task runs; the dispatcher stays usable.
type Kind = typeof TypeError | typeof RangeError;
type Row = [field: string, value: unknown, kind: Kind, shown: string];

/** Sets `path` (dotted) to `value` in a fresh object. */
function nested(path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  return { [head]: rest.length === 0 ? value : nested(rest.join('.'), value) };
}

const options: Row[] = [
  ['maxWorkers', 'four', TypeError, '"four" (string)'],
  ['maxWorkers', 0, RangeError, '0 (number)'],
  ['timeoutMs', null, TypeError, 'null (object)'],
  ['timeoutMs', -1, RangeError, '-1 (number)'],
  ['totalTimeoutMs', true, TypeError, 'true (boolean)'],
  ['totalTimeoutMs', 0, RangeError, '0 (number)'],
  ['abortGraceMs', '1s', TypeError, '"1s" (string)'],
  ['abortGraceMs', Number.NaN, RangeError, 'NaN (number)'],
  ['maxResults', [], TypeError, 'an object (object)'],
  ['maxResults', 0.5, RangeError, '0.5 (number)'],
  ['retry', 3, TypeError, '3 (number)'],
  ['retry.retries', '2', TypeError, '"2" (string)'],
  ['retry.retries', -1, RangeError, '-1 (number)'],
  ['retry.minDelayMs', {}, TypeError, 'an object (object)'],
  ['retry.minDelayMs', -5, RangeError, '-5 (number)'],
  ['retry.maxDelayMs', 'x', TypeError, '"x" (string)'],
  ['retry.maxDelayMs', 1, RangeError, '1 (number)'],
  ['retry.factor', false, TypeError, 'false (boolean)'],
  ['retry.factor', 0.5, RangeError, '0.5 (number)'],
  ['retry.jitter', 1, TypeError, '1 (number)'],
  ['retry.jitter', 'some', RangeError, '"some" (string)'],
  ['retry.retryOn', 'yes', TypeError, '"yes" (string)'],
  ['adaptive', 'on', TypeError, '"on" (string)'],
  ['adaptive.min', 'one', TypeError, '"one" (string)'],
  ['adaptive.min', 0, RangeError, '0 (number)'],
  ['adaptive.max', 'all', TypeError, '"all" (string)'],
  ['adaptive.max', 99, RangeError, '99 (number)'],
  ['adaptive.decrease', '0.5', TypeError, '"0.5" (string)'],
  ['adaptive.decrease', 1.5, RangeError, '1.5 (number)'],
  ['adaptive.increaseAfter', [], TypeError, 'an object (object)'],
  ['adaptive.increaseAfter', 0, RangeError, '0 (number)'],
  ['rateLimit', 60, TypeError, '60 (number)'],
  ['rateLimit.requestsPerMinute', '60', TypeError, '"60" (string)'],
  ['rateLimit.requestsPerMinute', -60, RangeError, '-60 (number)'],
  ['rateLimit.requestsPerSecond', '5', TypeError, '"5" (string)'],
  ['rateLimit.requestsPerSecond', Infinity, RangeError, 'Infinity (number)'],
  ['rateLimit.tokensPerMinute', true, TypeError, 'true (boolean)'],
  ['rateLimit.tokensPerMinute', 0, RangeError, '0 (number)'],
  ['rateLimit.burstMs', 'long', TypeError, '"long" (string)'],
  ['rateLimit.burstMs', -1, RangeError, '-1 (number)'],
  ['rateLimit.byKey', 'k', TypeError, '"k" (string)'],
  ['rateLimit.byKey.gpt', 5, TypeError, '5 (number)'],
  ['rateLimit.byKey.gpt.requestsPerMinute', 'many', TypeError, '"many" (string)'],
  ['rateLimit.byKey.gpt.requestsPerMinute', 0, RangeError, '0 (number)'],
  ['rateLimit.byKey.gpt.tokensPerMinute', null, TypeError, 'null (object)'],
  ['rateLimit.byKey.gpt.tokensPerMinute', -1, RangeError, '-1 (number)'],
  ['budget', 'cheap', TypeError, '"cheap" (string)'],
  ['budget.tokens', '100', TypeError, '"100" (string)'],
  ['budget.tokens', -5, RangeError, '-5 (number)'],
  ['budget.requests', 'ten', TypeError, '"ten" (string)'],
  ['budget.requests', -1, RangeError, '-1 (number)'],
  ['budget.spend', '1', TypeError, '"1" (string)'],
  ['budget.spend', Number.NaN, RangeError, 'NaN (number)'],
  ['budget.spendOf', 0.01, TypeError, '0.01 (number)'],
  ['deadline', 'soon', TypeError, '"soon" (string)'],
  ['deadline', Number.NaN, RangeError, 'NaN (number)'],
  ['deadline', new Date('not a date'), RangeError, 'NaN (number)'],
  ['deadline', 25_000, RangeError, '25000 (number)'],
  ['safetyMarginMs', '100', TypeError, '"100" (string)'],
  ['safetyMarginMs', -1, RangeError, '-1 (number)'],
  ['usageOf', {}, TypeError, 'an object (object)'],
  ['waitUntil', 1, TypeError, '1 (number)'],
];

const taskFields: Row[] = [
  ['id', 7, TypeError, '7 (number)'],
  ['id', '', RangeError, '"" (string)'],
  ['func', 'run', TypeError, '"run" (string)'],
  ['args', 'a', TypeError, '"a" (string)'],
  ['priority', '1', TypeError, '"1" (string)'],
  ['priority', Infinity, RangeError, 'Infinity (number)'],
  ['timeoutMs', '5', TypeError, '"5" (string)'],
  ['timeoutMs', 0, RangeError, '0 (number)'],
  ['totalTimeoutMs', 'long', TypeError, '"long" (string)'],
  ['totalTimeoutMs', -1, RangeError, '-1 (number)'],
  ['retry', 'again', TypeError, '"again" (string)'],
  ['retry.retries', 1.5, RangeError, '1.5 (number)'],
  ['retry.minDelayMs', -1, RangeError, '-1 (number)'],
  ['retry.maxDelayMs', 'x', TypeError, '"x" (string)'],
  ['retry.factor', 0, RangeError, '0 (number)'],
  ['retry.jitter', 'half', RangeError, '"half" (string)'],
  ['retry.retryOn', 1, TypeError, '1 (number)'],
  ['key', 5, TypeError, '5 (number)'],
  ['cost', 'lots', TypeError, '"lots" (string)'],
  ['cost', -1, RangeError, '-1 (number)'],
];

/** The dispatcher still works after a refusal: nothing ran, nothing is pending, a good task runs. */
async function stillUsable(d: Dispatcher, ran: () => boolean): Promise<void> {
  expect(ran()).toBe(false);
  expect(d.pendingCount + d.activeCount).toBe(0);
  const [r] = await d.dispatch([{ id: 'good', func: () => 'fine' }]);
  expect(r).toMatchObject({ status: 'done', result: 'fine' });
}

describe('bad input', () => {
  test.each(options)('option %s = %p: %p naming it and the value', (field, value, kind, shown) => {
    const make = () => new Dispatcher(nested(field, value) as never);
    expect(make).toThrow(kind);
    // A key under byKey is named as an index: rateLimit.byKey["gpt"].requestsPerMinute.
    expect(make).toThrow(`\`${field.replace(/^rateLimit\.byKey\.(\w+)/, 'rateLimit.byKey["$1"]')}\``);
    expect(make).toThrow(`got ${shown}`);
  });

  test.each(taskFields)('task field %s = %p: %p in dispatch, submit and new Task, before anything runs', async (field, value, kind, shown) => {
    const d = new Dispatcher();
    let ran = false;
    const good = { id: 'first', func: () => { ran = true; } };
    const bad = { id: 'second', func: () => { ran = true; }, ...nested(field, value) };
    const batch = d.dispatch([good, bad] as never);
    await expect(batch).rejects.toThrow(kind);
    await expect(d.dispatch([good, bad] as never)).rejects.toThrow(`\`tasks[1].${field}\``);
    await expect(d.dispatch([good, bad] as never)).rejects.toThrow(`got ${shown}`);
    expect(() => d.submit(bad as never)).toThrow(`\`task.${field}\``);
    expect(() => new Task(bad as never)).toThrow(kind);
    expect(() => new Task(bad as never)).toThrow(`\`task.${field}\``);
    await stillUsable(d, () => ran);
  });

  test.each([
    ['dispatch options', (d: Dispatcher) => d.dispatch([], { signal: 'stop' } as never), TypeError, '`options.signal`'],
    ['dispatch onProgress', (d: Dispatcher) => d.dispatch([], { onProgress: 1 } as never), TypeError, '`options.onProgress`'],
    ['dispatch unknown option', (d: Dispatcher) => d.dispatch([], { timeout: 1 } as never), TypeError, '`options.timeout`'],
    ['dispatch tasks', (d: Dispatcher) => d.dispatch('tasks' as never), TypeError, '`tasks`'],
    ['stream signal', (d: Dispatcher) => d.stream([], { signal: 5 } as never), TypeError, '`options.signal`'],
    ['shutdown wait', (d: Dispatcher) => d.shutdown('yes' as never), TypeError, '`wait`'],
    ['maxWorkers set', (d: Dispatcher) => { d.maxWorkers = -3; }, RangeError, '`maxWorkers`'],
    ['pauseFor ms', (d: Dispatcher) => d.pauseFor(Number.NaN), RangeError, '`ms`'],
    ['on listener', (d: Dispatcher) => d.on('settle', null as never), TypeError, '`listener`'],
    ['on name', (d: Dispatcher) => d.on('done' as never, () => {}), TypeError, '"done"'],
  ] as const)('%s: refused, and the dispatcher stays usable', async (_, call, kind, named) => {
    const d = new Dispatcher();
    const attempt = async () => call(d);
    await expect(attempt()).rejects.toThrow(kind);
    await expect(attempt()).rejects.toThrow(named);
    await stillUsable(d, () => false);
  });
});
