import type { DispatchProgress } from './batch.js';
import { checkOptions, checkType, invalidType } from './validate.js';

/** The options of one `dispatch` call. */
export interface DispatchOptions {
  /** Aborting it ends the batch's unfinished tasks as `cancelled`; `dispatch` still resolves. */
  readonly signal?: AbortSignal;
  /** Called after each result of the batch; a listener that throws is skipped over. */
  readonly onProgress?: (progress: DispatchProgress) => void;
}

/** The options of one `stream` call. */
export interface StreamOptions {
  /** Aborting it cancels the unfinished tasks; the stream still yields their `cancelled` results, then ends. */
  readonly signal?: AbortSignal;
}

/** Tasks as a batch call takes them: an array, accepted at once, or an iterable read as slots free. */
export type TaskSource<T> = readonly T[] | Iterable<T> | AsyncIterable<T>;

/** An array, or any iterable or async iterable. */
export function checkTaskSource(tasks: unknown, name = 'tasks'): readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown> {
  const source = tasks as Partial<Iterable<unknown> & AsyncIterable<unknown>> | null | undefined;
  if (
    !Array.isArray(tasks) &&
    typeof source?.[Symbol.iterator] !== 'function' &&
    typeof source?.[Symbol.asyncIterator] !== 'function'
  ) {
    invalidType(name, 'an array, an iterable or an async iterable', tasks);
  }
  // A string is iterable, but never a list of tasks.
  if (typeof tasks === 'string') {
    invalidType(name, 'an array, an iterable or an async iterable', tasks);
  }
  return tasks as readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>;
}

export function checkTaskList(tasks: unknown): readonly unknown[] {
  if (!Array.isArray(tasks)) {
    invalidType('tasks', 'an array', tasks);
  }
  return tasks;
}

export function readDispatchOptions(options: DispatchOptions | undefined, known: readonly string[]): DispatchOptions {
  if (options === undefined) {
    return {};
  }
  checkOptions('options', options, known);
  const { signal, onProgress } = options;
  // Duck-typed rather than `instanceof`, so a signal from another realm or a polyfill is accepted.
  if (signal !== undefined && typeof signal?.addEventListener !== 'function') {
    invalidType('options.signal', 'an AbortSignal', signal);
  }
  if (onProgress !== undefined) {
    checkType('options.onProgress', onProgress, 'function');
  }
  return options;
}
