/** What the mock server needs of a request, whichever API it came in by. */
export interface ChatRequest {
  readonly model: string;
  /** The prompt, a system prompt included, as role and text. */
  readonly messages: readonly { readonly role: string; readonly content: string }[];
  readonly maxTokens: number | undefined;
  readonly stream: boolean;
  /** Whether a stream ends with its usage (OpenAI's `stream_options.include_usage`; always for Anthropic). */
  readonly includeUsage: boolean;
}

/** Tokens of one answer. */
export interface Tokens {
  readonly prompt: number;
  readonly completion: number;
}

/**
 * One API the server speaks: how it reads a request and writes answers and errors. The server's limits,
 * faults and latency are the same for every API; only the shapes differ.
 */
export interface Protocol {
  /** Reads a request body, or returns the message of a 400 explaining what is wrong with it. */
  parse(body: string): ChatRequest | string;
  /** The body of an error response of `status`. */
  error(status: number, message: string): string;
  /** The status `errorRate` answers an overload with: 503 for OpenAI, 529 ("overloaded") for Anthropic. */
  readonly overloadStatus: number;
  /** The start of a 200 body, sent before a reset. */
  readonly cutBody: string;
  /** A whole answer; `index` is the request's arrival index, for its id. */
  body(index: number, request: ChatRequest, text: string, tokens: Tokens): string;
  /** A streamed answer as server-sent events. */
  events(index: number, request: ChatRequest, text: string, tokens: Tokens): string[];
  /** The event that breaks a stream off with an error of `status`'s kind. */
  streamError(status: number): string;
}

/** Parses a JSON object body, or returns the message of a 400. */
export function parseObject(body: string): Record<string, unknown> | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return 'The request body must be a JSON object.';
  }
  return json as Record<string, unknown>;
}

/**
 * The text of a message's content: a string, or an array of parts whose `text` is joined (other parts,
 * such as images, count as their JSON); null when it is neither.
 */
export function contentText(content: unknown): string | null {
  if (typeof content === 'string') {
    return content;
  }
  if (Array.isArray(content)) {
    return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : JSON.stringify(part))).join('\n');
  }
  return content == null ? '' : null;
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

/** The answer's text in pieces of four words, as a stream sends it. */
export function pieces(text: string): string[] {
  const words = text.split(' ');
  const out: string[] = [];
  for (let i = 0; i < words.length; i += 4) {
    out.push(`${i === 0 ? '' : ' '}${words.slice(i, i + 4).join(' ')}`);
  }
  return out;
}
