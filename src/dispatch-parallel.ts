import { Dispatcher } from './dispatcher.js';
import { TaskFailedError } from './errors.js';
import type { DispatcherOptions } from './options.js';
import { resolveOptions } from './options.js';
import type { TaskArgs, TaskFunction, TaskLike, TaskResultOf } from './types.js';
import { checkType, invalidType } from './validate.js';

/**
 * One item of a `dispatchParallel` call: the argument tuple, or the single argument itself when the
 * function takes one non-array argument. (An array item is always spread, so a lone array argument
 * is passed wrapped: `[[1, 2]]`.)
 */
export type ParallelItem<F extends TaskFunction> =
  | Readonly<TaskArgs<F>>
  | (TaskArgs<F> extends [infer Only] ? (Only extends readonly unknown[] ? never : Only) : never);

/** `fn` run over a list of argument tuples in parallel, resolving with its results in order. */
export type ParallelFunction<F extends TaskFunction> = (
  items: readonly ParallelItem<F>[],
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
    // A function defined as the value of a computed key takes the key as its name: the wrapper keeps fn's.
    const { [fn.name]: parallel } = { [fn.name]: (items: readonly ParallelItem<F>[]): Promise<TaskResultOf<F>[]> =>
      new Promise((resolve, reject) => {
        if (!Array.isArray(items)) {
          invalidType('items', 'an array', items);
        }
        const dispatcher = new Dispatcher(options);
        const controller = new AbortController();
        const tasks: TaskLike[] = items.map((item: unknown, index) => ({
          id: `${name}#${index}`,
          func: fn,
          args: Array.isArray(item) ? item : [item],
        }));
        void dispatcher.dispatch(tasks, { signal: controller.signal }).then((results) => {
          if (results.every((result) => result.success)) {
            resolve(results.map((result) => result.result as TaskResultOf<F>));
          }
        });
        // The first failure rejects at once and cancels the rest, whose own ends are then no news.
        tasks.forEach((task, index) =>
          dispatcher.waitFor(task.id).then((result) => {
            if (!result.success && !controller.signal.aborted) {
              const error = new TaskFailedError(result.taskId, index, result.error, result.cause);
              controller.abort(new DOMException(error.message, 'AbortError'));
              reject(error);
            }
          }),
        );
      }) };
    return parallel as ParallelFunction<F>;
  };
}
