import { anthropicUsage } from '../policies/usage.js';
import { invalidType } from '../validate.js';
import { type ReadStreamOptions, checkStreamOptions, report } from './stream.js';

/** What `readAnthropicStream` needs of the Anthropic SDK's `MessageStream` (`client.messages.stream(…)`). */
export interface AnthropicMessageStream<M> {
  on(event: 'text', listener: (text: string) => void): unknown;
  finalMessage(): Promise<M>;
}

/**
 * Reads an Anthropic SDK `MessageStream` to its end and returns its final message, failing as the stream
 * fails: an `event: error` mid-stream (`overloaded_error`, no status) rejects with the SDK's `APIError`,
 * which duta's classification retries. It waits on `finalMessage()`, not on `for await`: a loop that
 * consumes slower than the events arrive ends quietly on an error. Duck-typed: the SDK is not imported.
 */
export async function readAnthropicStream<M>(stream: AnthropicMessageStream<M>, options: ReadStreamOptions = {}): Promise<M> {
  const { onText } = checkStreamOptions(options);
  const { on, finalMessage } = (stream ?? {}) as Partial<AnthropicMessageStream<M>>;
  if (typeof on !== 'function' || typeof finalMessage !== 'function') {
    invalidType('stream', "the Anthropic SDK's MessageStream (client.messages.stream(…))", stream);
  }
  if (onText !== undefined) {
    stream.on('text', (text) => onText(text));
  }
  const message = await stream.finalMessage();
  report(options, anthropicUsage(message));
  return message;
}
