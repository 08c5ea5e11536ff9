/** The Anthropic Messages API shapes the mock server reads and writes. */
import { type ChatRequest, type Protocol, type Tokens, contentText, parseObject, pieces } from './request.js';

/** The error `type` Anthropic sends with each status. */
function errorType(status: number): string {
  const known: Record<number, string> = {
    401: 'authentication_error',
    402: 'billing_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    504: 'timeout_error',
    529: 'overloaded_error',
  };
  return known[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

const errorJson = (status: number, message: string): string => JSON.stringify({ type: 'error', error: { type: errorType(status), message } });

/** Reads a Messages request, or returns the message of a 400 explaining what is wrong with it. */
export function parseMessagesRequest(body: string): ChatRequest | string {
  const json = parseObject(body);
  if (typeof json === 'string') {
    return json;
  }
  const { model, max_tokens, messages, system, stream = false } = json;
  if (typeof model !== 'string') {
    return 'model: Field required, a string.';
  }
  if (!(Number.isInteger(max_tokens) && (max_tokens as number) >= 1)) {
    return 'max_tokens: Field required, an integer ≥ 1.';
  }
  if (!Array.isArray(messages) || messages.length === 0) {
    return 'messages: Field required, a non-empty array.';
  }
  const parsed: { role: string; content: string }[] = [];
  if (system !== undefined) {
    const text = contentText(system);
    if (text === null) {
      return 'system: must be a string or an array of text blocks.';
    }
    parsed.push({ role: 'system', content: text });
  }
  for (const [i, message] of messages.entries()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (role !== 'user' && role !== 'assistant') {
      return `messages.${i}.role: Input should be 'user' or 'assistant'.`;
    }
    const text = contentText(content);
    if (text === null) {
      return `messages.${i}.content: must be a string or an array of content blocks.`;
    }
    parsed.push({ role, content: text });
  }
  if (typeof stream !== 'boolean') {
    return 'stream: must be a boolean.';
  }
  return { model, messages: parsed, maxTokens: max_tokens as number, stream, includeUsage: true };
}

const usageOf = ({ prompt, completion }: Tokens) => ({
  input_tokens: prompt,
  output_tokens: completion,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

const message = (index: number, model: string, content: object[], stopReason: string | null, usage: object) => ({
  id: `msg_mock_${index}`,
  type: 'message',
  role: 'assistant',
  model,
  content,
  stop_reason: stopReason,
  stop_sequence: null,
  usage,
});

const event = (data: Readonly<Record<string, unknown>> & { readonly type: string }): string => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

/**
 * A streamed answer as the Messages API sends it: `message_start` (input tokens), one text block (its
 * start, a `ping`, its deltas, its stop), `message_delta` (stop reason and output tokens), `message_stop`.
 */
function messageEvents(index: number, { model }: ChatRequest, text: string, tokens: Tokens): string[] {
  return [
    event({ type: 'message_start', message: message(index, model, [], null, { ...usageOf(tokens), output_tokens: 1 }) }),
    event({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    event({ type: 'ping' }),
    ...pieces(text).map((piece) => event({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } })),
    event({ type: 'content_block_stop', index: 0 }),
    event({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: tokens.completion } }),
    event({ type: 'message_stop' }),
  ];
}

/** The Anthropic Messages API: `POST /v1/messages`. */
export const anthropic: Protocol = {
  parse: parseMessagesRequest,
  error: errorJson,
  overloadStatus: 529,
  cutBody: '{"id":"msg_mock_reset","type":"mess',
  body: (index, { model }, text, tokens) => JSON.stringify(message(index, model, [{ type: 'text', text }], 'end_turn', usageOf(tokens))),
  events: messageEvents,
  // Mid-stream, Anthropic sends an `error` event with the error body a response of that status would carry.
  streamError: (status) => `event: error\ndata: ${errorJson(status, status === 529 ? 'Overloaded' : `Scripted stream error: ${errorType(status)}`)}\n\n`,
};
