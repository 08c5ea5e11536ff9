import type { Usage } from '../policies/budget.js';
import type { TaskContext } from '../types.js';
import { checkOptions, checkType, invalidType } from '../validate.js';

/** How a stream helper reports what it reads. Every field is optional. */
export interface ReadStreamOptions {
  /** Called with each piece of text as it arrives. @default none */
  readonly onText?: (text: string) => void;
  /**
   * The task's context (`ctx`): the stream's usage is reported through `ctx.reportUsage` when it ends, so a
   * budget or a token rate limit counts it whatever the task returns; and an aborted stream fails with
   * `ctx.signal`'s reason (a timeout's `TimeoutError`). @default none
   */
  readonly context?: Pick<TaskContext, 'signal' | 'reportUsage'>;
}

/**
 * A stream's error event that carried no `Error`: the provider's error object (the AI SDK passes an
 * OpenAI-compatible stream's `error` chunk on as it came) is kept as `cause`, its `type` brought up, so
 * the default classification sees a status-less `server_error` or `overloaded_error` and retries it.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  /** The provider's error type (`server_error`, `overloaded_error`, …), if it gave one. */
  readonly type: string | undefined;

  constructor(error: unknown) {
    const { message, type } = (typeof error === 'object' && error !== null ? error : {}) as { message?: unknown; type?: unknown };
    const text = typeof message === 'string' ? message : typeof error === 'string' ? error : JSON.stringify(error);
    super(`The stream failed: ${text}`, { cause: error });
    this.type = typeof type === 'string' ? type : undefined;
  }
}

/** Validates a helper's options, naming each field in errors. */
export function checkStreamOptions(options: unknown): ReadStreamOptions {
  const { onText, context } = checkOptions('options', options, ['onText', 'context']) as ReadStreamOptions;
  if (onText !== undefined) {
    checkType('options.onText', onText, 'function');
  }
  if (context !== undefined && typeof (context as { reportUsage?: unknown } | null)?.reportUsage !== 'function') {
    invalidType('options.context', "the task's context (ctx), with reportUsage and signal", context);
  }
  return { onText, context };
}

/** Reports a stream's usage through the task's context, when there is one and the usage was read. */
export function report(options: ReadStreamOptions, usage: Usage | undefined): void {
  if (usage !== undefined) {
    options.context?.reportUsage(usage);
  }
}
