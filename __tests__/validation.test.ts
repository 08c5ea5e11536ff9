import { describe, expect, test } from '@jest/globals';
import { Dispatcher, dispatchParallel, Task } from '../src/index.js';
import { suggestName } from '../src/validate.js';

type Kind = typeof TypeError | typeof RangeError;

/** [option, bad value, error kind, the message's "got …" part] */
const badOptions: [string, unknown, Kind, string][] = [
  ['maxWorkers', '4', TypeError, '"4" (string)'],
  ['maxWorkers', 0, RangeError, '0 (number)'],
  ['maxWorkers', -1, RangeError, '-1 (number)'],
  ['maxWorkers', 1.5, RangeError, '1.5 (number)'],
  ['maxWorkers', Number.NaN, RangeError, 'NaN (number)'],
  ['maxWorkers', -Infinity, RangeError, '-Infinity (number)'],
  ['maxWorkers', null, TypeError, 'null (object)'],
  ['timeoutMs', '30s', TypeError, '"30s" (string)'],
  ['timeoutMs', 0, RangeError, '0 (number)'],
  ['timeoutMs', -5, RangeError, '-5 (number)'],
  ['timeoutMs', Number.NaN, RangeError, 'NaN (number)'],
  ['abortGraceMs', true, TypeError, 'true (boolean)'],
  ['abortGraceMs', 0, RangeError, '0 (number)'],
  ['maxResults', 0, RangeError, '0 (number)'],
  ['maxResults', 2.5, RangeError, '2.5 (number)'],
  ['maxResults', {}, TypeError, 'an object (object)'],
  ['totalTimeoutMs', 0, RangeError, '0 (number)'],
  ['totalTimeoutMs', '1m', TypeError, '"1m" (string)'],
];

/** [retry field, bad value, error kind, the message's "got …" part] */
const badRetry: [string, unknown, Kind, string][] = [
  ['retries', -1, RangeError, '-1 (number)'],
  ['retries', 1.5, RangeError, '1.5 (number)'],
  ['retries', '3', TypeError, '"3" (string)'],
  ['minDelayMs', -1, RangeError, '-1 (number)'],
  ['minDelayMs', Number.NaN, RangeError, 'NaN (number)'],
  ['maxDelayMs', 100, RangeError, '100 (number)'],
  ['factor', 0.5, RangeError, '0.5 (number)'],
  ['jitter', 'half', RangeError, '"half" (string)'],
  ['jitter', 1, TypeError, '1 (number)'],
  ['factor', Infinity, RangeError, 'Infinity (number)'],
  ['minDelayMs', Infinity, RangeError, 'Infinity (number)'],
  ['retryOn', true, TypeError, 'true (boolean)'],
];

describe('retry options', () => {
  test.each(badRetry)('retry.%s = %p throws a %p naming the field and the value', (name, value, kind, got) => {
    // maxDelayMs 100 is below the default minDelayMs of 500.
    const make = () => new Dispatcher({ retry: { [name]: value } });
    expect(make).toThrow(kind);
    expect(make).toThrow(`Expected \`retry.${name}\` to be `);
    expect(make).toThrow(`, got ${got}`);
  });

  test('on a task too, named by its index, before anything runs', async () => {
    const d = new Dispatcher();
    let ran = false;
    const tasks = [
      { id: 'a', func: () => { ran = true; } },
      { id: 'b', func: () => {}, retry: { retries: -2 } },
    ];
    await expect(d.dispatch(tasks)).rejects.toThrow('Expected `tasks[1].retry.retries` to be an integer ≥ 0 or Infinity, got -2 (number)');
    expect(() => d.submit({ id: 'c', func: () => {}, retry: { wait: 1 } as never })).toThrow('Unknown option `task.retry.wait`');
    expect(() => new Task({ id: 'd', func: () => {}, totalTimeoutMs: -1 })).toThrow('Expected `task.totalTimeoutMs` to be');
    expect(ran).toBe(false);
    expect(d.pendingCount).toBe(0);
  });

  test('retries: 0, Infinity and an empty retry object are accepted', () => {
    expect(() => new Dispatcher({ retry: { retries: 0 } })).not.toThrow();
    expect(() => new Dispatcher({ retry: { retries: Infinity } })).not.toThrow();
    expect(() => new Dispatcher({ retry: {} })).not.toThrow();
  });
});

describe('Dispatcher options', () => {
  test.each(badOptions)('%s = %p throws a %p naming the option and the value', (name, value, kind, got) => {
    const make = () => new Dispatcher({ [name]: value });
    expect(make).toThrow(kind);
    expect(make).toThrow(`Expected \`${name}\` to be `);
    expect(make).toThrow(`, got ${got}`);
  });

  test.each([
    ['maxWorkers', Infinity],
    ['timeoutMs', Infinity],
    ['abortGraceMs', Infinity],
    ['maxResults', Infinity],
    ['timeoutMs', 0.5],
  ])('%s = %p is accepted', (name, value) => {
    expect(() => new Dispatcher({ [name]: value })).not.toThrow();
  });

  test('an unknown option is a TypeError naming it, so a typo is not silently ignored', () => {
    expect(() => new Dispatcher({ concurrency: 8 } as never)).toThrow(TypeError);
    expect(() => new Dispatcher({ concurrency: 8 } as never)).toThrow('Unknown option `options.concurrency`');
  });

  test.each([
    [{ concurrency: 4 }, '`options.concurrency`: did you mean `maxWorkers`?'],
    [{ timeout: 1_000 }, '`options.timeout`: did you mean `timeoutMs`?'],
    [{ retries: 3 }, '`options.retries`: did you mean `retry: { retries }`?'],
    [{ interval: 1_000 }, '`options.interval`: did you mean `rateLimit`?'],
    [{ intervalCap: 5 }, '`options.intervalCap`: did you mean `rateLimit`?'],
    [{ maxWorker: 4 }, '`options.maxWorker`: did you mean `maxWorkers`?'],
    [{ timout: 1_000 }, '`options.timout`: did you mean `timeoutMs`?'],
    [{ totalTimeout: 1_000 }, '`options.totalTimeout`: did you mean `totalTimeoutMs`?'],
    [{ retry: { maxRetries: 2 } }, '`retry.maxRetries`: did you mean `retries`?'],
    [{ retry: { minTimeout: 100 } }, '`retry.minTimeout`: did you mean `minDelayMs`?'],
    [{ retry: { jiter: 'none' } }, '`retry.jiter`: did you mean `jitter`?'],
    [{ rateLimit: { rpm: 60 } }, '`rateLimit.rpm`: did you mean `requestsPerMinute`?'],
    [{ rateLimit: { byKey: { a: { tpm: 1 } } } }, '`rateLimit.byKey["a"].tpm`: did you mean `tokensPerMinute`?'],
    [{ budget: { token: 100 } }, '`budget.token`: did you mean `tokens`?'],
    [{ adaptive: { minimum: 2 } }, '`adaptive.minimum`: did you mean `min`?'],
    [{ adaptive: { increase: 5 } }, '`adaptive.increase`: did you mean `increaseAfter`?'],
  ])('the unknown option %p suggests the right name', (options, message) => {
    expect(() => new Dispatcher(options as never)).toThrow(new TypeError(`Unknown option ${message}`));
  });

  test('an unknown option near no known name is refused without a suggestion', () => {
    expect(() => new Dispatcher({ colour: 'blue' } as never)).toThrow(new TypeError('Unknown option `options.colour`'));
  });

  test('the options of a dispatch call suggest the right name too', async () => {
    await expect(new Dispatcher().dispatch([], { onprogress: () => {} } as never)).rejects.toThrow(
      'Unknown option `options.onprogress`: did you mean `onProgress`?',
    );
  });

  test('options that are not an object are a TypeError', () => {
    expect(() => new Dispatcher(42 as never)).toThrow('Expected `options` to be an object, got 42 (number)');
    expect(() => new Dispatcher(null as never)).toThrow(TypeError);
  });

  test('an option given as undefined takes its default', () => {
    expect(new Dispatcher({ maxWorkers: undefined }).maxWorkers).toBe(4);
  });

  test('dispatchParallel validates the same options when it is set up', () => {
    expect(() => dispatchParallel({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => dispatchParallel({ timeoutMs: -1 })).toThrow('`timeoutMs`');
  });
});

/** [field, bad value, error kind, the message's "got …" part] */
const badFields: [string, unknown, Kind, string][] = [
  ['id', undefined, TypeError, 'undefined (undefined)'],
  ['id', 7, TypeError, '7 (number)'],
  ['id', '', RangeError, '"" (string)'],
  ['func', 'fetch', TypeError, '"fetch" (string)'],
  ['func', undefined, TypeError, 'undefined (undefined)'],
  ['args', 'a,b', TypeError, '"a,b" (string)'],
  ['args', { 0: 'a' }, TypeError, 'an object (object)'],
  ['priority', '1', TypeError, '"1" (string)'],
  ['priority', Number.NaN, RangeError, 'NaN (number)'],
  ['priority', Infinity, RangeError, 'Infinity (number)'],
  ['timeoutMs', 0, RangeError, '0 (number)'],
  ['timeoutMs', '1s', TypeError, '"1s" (string)'],
];

describe('task fields', () => {
  const valid = { id: 'ok', func: () => 1 };

  test.each(badFields)('%s = %p throws a %p from new Task, submit and dispatch, naming the field', async (field, value, kind, got) => {
    const init = { ...valid, [field]: value } as never;
    expect(() => new Task(init)).toThrow(kind);
    expect(() => new Task(init)).toThrow(`Expected \`task.${field}\` to be `);
    expect(() => new Task(init)).toThrow(`, got ${got}`);
    const d = new Dispatcher();
    expect(() => d.submit(init)).toThrow(`Expected \`task.${field}\``);
    await expect(d.dispatch([valid, init])).rejects.toThrow(`Expected \`tasks[1].${field}\``);
    expect(() => d.dispatchNowait([init])).toThrow(`Expected \`tasks[0].${field}\``);
    // Nothing was queued, and the dispatcher is still usable.
    expect(d.pendingCount + d.activeCount).toBe(0);
    await expect(d.dispatch([valid])).resolves.toMatchObject([{ status: 'done', result: 1 }]);
  });

  test('a task that is not an object is a TypeError', () => {
    expect(() => new Dispatcher().submit('task' as never)).toThrow('Expected `task` to be an object, got "task" (string)');
    expect(() => new Task(undefined as never)).toThrow(TypeError);
  });

  test('an unknown task field is a TypeError naming it, with the field meant when it is a near miss', async () => {
    const d = new Dispatcher();
    await expect(d.dispatch([valid, { ...valid, id: 'b', meta: { user: 'u1' } } as never])).rejects.toThrow(
      new TypeError('Unknown task field `tasks[1].meta`'),
    );
    expect(() => d.submit({ id: 's', func: (x: string) => x, arg: ['x'] } as never)).toThrow(
      new TypeError('Unknown task field `task.arg`: did you mean `args`?'),
    );
    expect(() => new Task({ id: 't', func: () => 1, priorty: 2 } as never)).toThrow(': did you mean `priority`?');
    expect(d.pendingCount).toBe(0);
  });
});

describe('suggestName', () => {
  const known = ['maxWorkers', 'timeoutMs', 'retry', 'increaseAfter', 'decrease'];

  test('an alias wins over any near name', () => {
    expect(suggestName('concurrency', known, { concurrency: 'maxWorkers' })).toBe('maxWorkers');
  });

  test('a name differing only in case, or a unique beginning of one, is suggested', () => {
    expect(suggestName('MAXWORKERS', known)).toBe('maxWorkers');
    expect(suggestName('increase', known)).toBe('increaseAfter');
  });

  test('a typo within one edit in four characters is suggested, a unit suffix left out costing nothing', () => {
    expect(suggestName('maxWokrers', known)).toBe('maxWorkers');
    expect(suggestName('timout', known)).toBe('timeoutMs');
  });

  test('a name far from every known one gets no suggestion, nor does one on the prototype of the aliases', () => {
    expect(suggestName('colour', known)).toBeUndefined();
    expect(suggestName('constructor', known, {})).toBeUndefined();
  });
});
