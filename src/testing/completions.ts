/** The OpenAI chat-completions shapes the mock server reads and writes. */

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly { readonly role: string; readonly content: string }[];
  readonly maxTokens: number | undefined;
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** An OpenAI-shaped error body. */
export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Reads a request body, or returns the message of a 400 explaining what is wrong with it. */
export function parseChatRequest(body: string): ChatRequest | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return 'The request body must be a JSON object.';
  }
  const { model = 'mock-gpt', messages, max_tokens, max_completion_tokens, stream = false, stream_options } = json as Record<string, unknown>;
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
    const text = typeof content === 'string' ? content : Array.isArray(content) ? JSON.stringify(content) : content == null ? '' : null;
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

/** Tokens of a prompt, estimated as providers' tokenizers roughly count English: ~4 characters a token. */
export function promptTokens(request: ChatRequest): number {
  return request.messages.reduce((sum, { content }) => sum + 4 + Math.ceil(content.length / 4), 2);
}

const WORDS = 'the model considered your request and here is a concise answer with the key points in order'.split(' ');

/** An answer of `tokens` words (one token each), varied by the request's random stream. */
export function answerText(tokens: number, random: () => number): string {
  const offset = Math.floor(random() * WORDS.length);
  return Array.from({ length: tokens }, (_, i) => WORDS[(offset + i) % WORDS.length]).join(' ');
}

export function completionBody(id: string, model: string, text: string, usage: Usage): string {
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  });
}

/** The server-sent events of a streamed answer: a role chunk, content chunks, a stop chunk, usage, `[DONE]`. */
export function streamEvents(id: string, model: string, text: string, usage: Usage, includeUsage: boolean): string[] {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finish: string | null, extra: object = {}): string =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
  const words = text.split(' ');
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += 4) {
    pieces.push(`${i === 0 ? '' : ' '}${words.slice(i, i + 4).join(' ')}`);
  }
  const events = [chunk({ role: 'assistant', content: '' }, null), ...pieces.map((piece) => chunk({ content: piece }, null)), chunk({}, 'stop')];
  if (includeUsage) {
    events.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
  }
  events.push('data: [DONE]\n\n');
  return events;
}

export function modelsBody(): string {
  return JSON.stringify({ object: 'list', data: [{ id: 'mock-gpt', object: 'model', created: 1_700_000_000, owned_by: 'duta' }] });
}
