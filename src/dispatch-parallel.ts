import { Dispatcher } from './dispatcher.js';
import { TaskFailedError } from './errors.js';
import type { DispatcherOptions } from './options.js';
import { resolveOptions } from './options.js';
import type { TaskArgs, TaskFunction, TaskLike, TaskResultOf } from './types.js';
import { checkType } from './validate.js';
import { checkTaskSource } from './call-options.js';
import type { StreamResult } from './batch.js';

/**
 * One item of a `dispatchParallel` call: the argument tuple, or the single argument itself when the
 * function takes one non-array argument. (An array item is always spread, so a lone array argument
 * is passed wrapped: `[[1, 2]]`.)
 */
export type ParallelItem<F extends TaskFunction> =
  | Readonly<TaskArgs<F>>
  | (TaskArgs<F> extends [infer Only] ? (Only extends readonly unknown[] ? never : Only) : never);

/**
 * `fn` run over items in parallel, resolving with its results in order. The items may be an array, or
 * any iterable or async iterable, read as slots free; an error the iterable throws is the rejection.
 */
export type ParallelFunction<F extends TaskFunction> = (
  items: readonly ParallelItem<F>[] | Iterable<ParallelItem<F>> | AsyncIterable<ParallelItem<F>>,
) => Promise<TaskResultOf<F>[]>;

/**
 * Wraps `fn` so that one call runs it over many items at once, with the given Dispatcher options
 * (each call its own batch and cap). Fails fast: the first failure or timeout aborts the other items
 * and rejects with a `TaskFailedError` naming it.
 */
export function dispatchParallel(
  options?: DispatcherOptions,
): <F extends TaskFunction>(fn: F) => ParallelFunction<F> {
  resolveOptions(options);
  return <F extends TaskFunction>(fn: F): ParallelFunction<F> => {
    checkType('fn', fn, 'function');
    const name = fn.name === '' ? 'task' : fn.name;
    const toTask = (item: unknown, index: number): TaskLike => ({ id: `${name}#${index}`, func: fn, args: Array.isArray(item) ? item : [item] });
    // A function defined as the value of a computed key takes the key as its name: the wrapper keeps fn's.
    const { [fn.name]: parallel } = {
      [fn.name]: (items: unknown): Promise<TaskResultOf<F>[]> => {
        try {
          const source = checkTaskSource(items, 'items');
          const broken: SourceError = { failed: false, error: undefined };
          const tasks = Array.isArray(source) ? source.map(toTask) : mapped(source as Iterable<unknown> | AsyncIterable<unknown>, toTask, broken);
          const controller = new AbortController();
          return collect<TaskResultOf<F>>(new Dispatcher(options).stream(tasks, { signal: controller.signal }), controller, broken);
        } catch (error) {
          return Promise.reject(error);
        }
      },
    };
    return parallel as ParallelFunction<F>;
  };
}

/** What the items' iterable threw, if it did: the run ends with that error. */
interface SourceError {
  failed: boolean;
  error: unknown;
}

/** Each item of `source` through `map`, with its index, as lazily as `source` itself; an error it throws is noted in `broken`. */
function mapped<T>(
  source: Iterable<unknown> | AsyncIterable<unknown>,
  map: (item: unknown, index: number) => T,
  broken: SourceError,
): Iterable<T> | AsyncIterable<T> {
  const fail = (error: unknown): never => {
    broken.failed = true;
    broken.error = error;
    throw error;
  };
  if (typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return (async function* () {
      let index = 0;
      try {
        for await (const item of source as AsyncIterable<unknown>) {
          yield map(item, index++);
        }
      } catch (error) {
        fail(error);
      }
    })();
  }
  return (function* () {
    let index = 0;
    try {
      for (const item of source as Iterable<unknown>) {
        yield map(item, index++);
      }
    } catch (error) {
      fail(error);
    }
  })();
}

/**
 * The results in input order; the first failure aborts the rest and rejects with a `TaskFailedError`.
 * When the items' iterable threw, the tasks it had started end cancelled by its error, which the call
 * rejects with instead: no task failed.
 */
async function collect<R>(stream: AsyncIterable<StreamResult>, controller: AbortController, broken: SourceError): Promise<R[]> {
  const results: R[] = [];
  for await (const result of stream) {
    if (broken.failed) {
      throw broken.error;
    }
    if (!result.success) {
      // The first failure rejects at once and cancels the rest, whose own ends are then no news.
      const error = new TaskFailedError(result.taskId, result.index, result.error, result.cause);
      controller.abort(new DOMException(error.message, 'AbortError'));
      throw error;
    }
    results[result.index] = result.result as R;
  }
  return results;
}
