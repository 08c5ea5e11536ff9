import { checkUsage, type Usage } from '../policies/budget.js';
import type { TaskContext } from '../types.js';

/**
 * One run of a task's function, and the context it is handed. Its signal is made when first read: a
 * task that never reads it costs no `AbortController`, even when it is aborted (nobody could see it),
 * and one that reads it after the abort gets an already-aborted signal.
 */
export class Attempt implements TaskContext {
  #controller: AbortController | undefined;
  #signal: AbortSignal | undefined;
  /** The abort reason, once aborted. */
  #reason: unknown;
  #aborted = false;
  #usage: Usage | undefined;

  constructor(
    readonly taskId: string,
    readonly attempt: number,
  ) {}

  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      if (this.#aborted) {
        this.#signal = AbortSignal.abort(this.#reason);
      } else {
        this.#controller = new AbortController();
        this.#signal = this.#controller.signal;
      }
    }
    return this.#signal;
  }

  /** Tells the dispatcher the tokens this attempt used, correcting the task's `cost` estimate. */
  reportUsage(usage: Usage): void {
    this.#usage = checkUsage(usage);
  }

  /** Static, so that the context a task receives has no method that aborts it. */
  static abort(attempt: Attempt, reason: unknown): void {
    attempt.#aborted = true;
    attempt.#reason = reason;
    attempt.#controller?.abort(reason);
  }

  static usage(attempt: Attempt): Usage | undefined {
    return attempt.#usage;
  }
}
