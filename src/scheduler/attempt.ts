import { checkUsage, type Usage } from '../policies/budget.js';
import type { TaskContext } from '../types.js';

/**
 * One run of a task's function, and the context it is handed. Its controller is made on first use:
 * a task that never reads its signal, and is never aborted, costs no `AbortController`.
 */
export class Attempt implements TaskContext {
  #controller: AbortController | undefined;
  #usage: Usage | undefined;

  constructor(
    readonly taskId: string,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Tells the dispatcher the tokens this attempt used, correcting the task's `cost` estimate. */
  reportUsage(usage: Usage): void {
    this.#usage = checkUsage(usage);
  }

  /** Static, so that the context a task receives has no method that aborts it. */
  static abort(attempt: Attempt, reason: unknown): void {
    (attempt.#controller ??= new AbortController()).abort(reason);
  }

  static usage(attempt: Attempt): Usage | undefined {
    return attempt.#usage;
  }
}
