import { aiSdkUsage } from '../policies/usage.js';
import { invalidType } from '../validate.js';
import { type ReadStreamOptions, StreamError, checkStreamOptions, report } from './stream.js';

/**
 * What `readAiSdkStream` reads of a part of the AI SDK's `fullStream` (`TextStreamPart`): text deltas,
 * errors, an abort and the finish with the usage of every step. Other parts pass by.
 */
export interface AiSdkStreamPart<U> {
  readonly type: string;
  readonly text?: string;
  readonly error?: unknown;
  readonly totalUsage?: U;
}

/** What `readAiSdkStream` needs of the AI SDK's `streamText` result. */
export interface AiSdkStreamResult<U> {
  readonly fullStream: AsyncIterable<AiSdkStreamPart<U>>;
}

/** A streamed answer read to its end. */
export interface StreamedText<U> {
  readonly text: string;
  /** The usage of every step, as the AI SDK gives it; undefined when the stream ended without a finish. */
  readonly usage: U | undefined;
}

/**
 * Reads an AI SDK `streamText` result to its end and returns its text and usage, failing as its stream
 * fails. `streamText` reports a failure (a 429 before the first token, an error chunk mid-stream) only as an
 * `error` part, while its `textStream` ends quietly and the task would succeed with the text so far; here
 * the task fails with the provider's error (an `APICallError`, a `RetryError`, or a `StreamError` around
 * an error chunk), which duta's classification retries and pauses on. An aborted stream fails with the
 * context's abort reason. Duck-typed: the AI SDK is not imported.
 */
export async function readAiSdkStream<U>(result: AiSdkStreamResult<U>, options: ReadStreamOptions = {}): Promise<StreamedText<U>> {
  const { onText, context } = checkStreamOptions(options);
  const parts = (result as { fullStream?: unknown } | null)?.fullStream;
  if (typeof (parts as AsyncIterable<unknown> | null | undefined)?.[Symbol.asyncIterator] !== 'function') {
    invalidType('result', "the AI SDK's streamText result (with a fullStream)", result);
  }
  let text = '';
  let usage: U | undefined;
  for await (const part of result.fullStream) {
    if (part.type === 'text-delta' && typeof part.text === 'string') {
      text += part.text;
      onText?.(part.text);
    } else if (part.type === 'error') {
      throw part.error instanceof Error ? part.error : new StreamError(part.error);
    } else if (part.type === 'abort') {
      throw context?.signal.aborted ? context.signal.reason : new DOMException('The stream was aborted', 'AbortError');
    } else if (part.type === 'finish') {
      usage = part.totalUsage;
    }
  }
  report(options, aiSdkUsage({ usage }));
  return { text, usage };
}
