/** The OpenAI chat-completions shapes the mock server reads and writes. */
import { type ChatRequest, type Protocol, type Tokens, contentText, parseObject, pieces } from './request.js';

/** An OpenAI-shaped error body. */
export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Reads a request body, or returns the message of a 400 explaining what is wrong with it. */
export function parseChatRequest(body: string): ChatRequest | string {
  const json = parseObject(body);
  if (typeof json === 'string') {
    return json;
  }
  const { model = 'mock-gpt', messages, max_tokens, max_completion_tokens, stream = false, stream_options } = json;
  if (typeof model !== 'string') {
    return "'model' must be a string.";
  }
  if (!Array.isArray(messages) || messages.length === 0) {
    return "'messages' must be a non-empty array.";
  }
  const parsed: { role: string; content: string }[] = [];
  for (const [i, message] of messages.entries()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string') {
      return `'messages[${i}].role' must be a string.`;
    }
    const text = contentText(content);
    if (text === null) {
      return `'messages[${i}].content' must be a string or an array of parts.`;
    }
    parsed.push({ role, content: text });
  }
  const maxTokens = max_completion_tokens ?? max_tokens;
  if (maxTokens !== undefined && maxTokens !== null && !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1)) {
    return "'max_tokens' must be an integer ≥ 1.";
  }
  if (typeof stream !== 'boolean') {
    return "'stream' must be a boolean.";
  }
  const includeUsage = (stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  return { model, messages: parsed, maxTokens: (maxTokens ?? undefined) as number | undefined, stream, includeUsage };
}

const usageOf = ({ prompt, completion }: Tokens) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

function completionBody(index: number, { model }: ChatRequest, text: string, tokens: Tokens): string {
  return JSON.stringify({
    id: `chatcmpl-mock-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: usageOf(tokens),
  });
}

/** The server-sent events of a streamed answer: a role chunk, content chunks, a stop chunk, usage, `[DONE]`. */
function streamEvents(index: number, { model, includeUsage }: ChatRequest, text: string, tokens: Tokens): string[] {
  const id = `chatcmpl-mock-${index}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finish: string | null): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  const events = [chunk({ role: 'assistant', content: '' }, null), ...pieces(text).map((piece) => chunk({ content: piece }, null)), chunk({}, 'stop')];
  if (includeUsage) {
    events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOf(tokens) })}\n\n`);
  }
  events.push('data: [DONE]\n\n');
  return events;
}

/** The OpenAI chat-completions API: `POST /v1/chat/completions`. */
export const openAi: Protocol = {
  parse: parseChatRequest,
  error: (status, message) =>
    status === 429
      ? errorBody(message, 'rate_limit_exceeded', 'rate_limit_exceeded')
      : errorBody(message, status >= 500 ? 'server_error' : 'invalid_request_error'),
  overloadStatus: 503,
  cutBody: '{"id":"chatcmpl-mock-reset","object":"chat.com',
  body: completionBody,
  events: streamEvents,
  // OpenAI breaks a stream off with an `error` chunk, a server error whatever went wrong.
  streamError: () => `data: ${errorBody('The server had an error while processing your request.', 'server_error')}\n\n`,
};

export function modelsBody(): string {
  return JSON.stringify({ object: 'list', data: [{ id: 'mock-gpt', object: 'model', created: 1_700_000_000, owned_by: 'duta' }] });
}
