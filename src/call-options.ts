import type { DispatchProgress } from './batch.js';
import { checkOptions, checkType, invalidType } from './validate.js';

export interface DispatchOptions {
  /** Aborting it ends the batch's unfinished tasks as `cancelled`; `dispatch` still resolves. */
  readonly signal?: AbortSignal;
  /** Called after each result of the batch; a listener that throws is skipped over. */
  readonly onProgress?: (progress: DispatchProgress) => void;
}

export interface StreamOptions {
  /** Aborting it cancels the unfinished tasks; the stream still yields their `cancelled` results, then ends. */
  readonly signal?: AbortSignal;
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
