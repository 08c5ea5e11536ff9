import { describe, expect, test } from '@jest/globals';
import { StreamError, readAiSdkStream, readAnthropicStream } from '../src/clients/index.js';
import { isRetryable, type Usage } from '../src/index.js';

// The stream helpers' own rules: their input checks and how they turn stream parts into a result or an
// error. What the clients really send is covered by the integration tests, with the real SDKs.

type Part = { type: string; text?: string; error?: unknown; totalUsage?: { totalTokens: number } };

const fullStream = (...parts: Part[]) => ({
  fullStream: (async function* () {
    yield* parts;
  })(),
});

const context = (signal = new AbortController().signal) => {
  const reported: Usage[] = [];
  return { reported, ctx: { signal, reportUsage: (usage: Usage) => reported.push(usage) } };
};

describe('readAiSdkStream', () => {
  test('joins the text, calls onText for each piece, and reports the finish usage through the context', async () => {
    const pieces: string[] = [];
    const { reported, ctx } = context();
    const read = await readAiSdkStream(fullStream({ type: 'text-delta', text: 'Hel' }, { type: 'reasoning-delta', text: '…' }, { type: 'text-delta', text: 'lo' }, { type: 'finish', totalUsage: { totalTokens: 9 } }), {
      context: ctx,
      onText: (piece) => pieces.push(piece),
    });
    expect(read).toEqual({ text: 'Hello', usage: { totalTokens: 9 } });
    expect(pieces).toEqual(['Hel', 'lo']);
    expect(reported).toEqual([{ totalTokens: 9 }]);
  });

  test('an error part fails the read with the error as it came, or a StreamError around a plain object', async () => {
    const apiError = Object.assign(new Error('Too Many Requests'), { statusCode: 429 });
    await expect(readAiSdkStream(fullStream({ type: 'text-delta', text: 'a' }, { type: 'error', error: apiError }))).rejects.toBe(apiError);
    const chunk = { message: 'The server had an error', type: 'server_error', param: null, code: null };
    const failed = (await readAiSdkStream(fullStream({ type: 'error', error: chunk })).catch((e: unknown) => e)) as StreamError;
    expect(failed).toBeInstanceOf(StreamError);
    expect(failed).toMatchObject({ name: 'StreamError', message: 'The stream failed: The server had an error', type: 'server_error', cause: chunk });
    expect(isRetryable(failed)).toBe(true);
    expect(new StreamError('text part 1 not found').message).toBe('The stream failed: text part 1 not found');
    expect(isRetryable(new StreamError({ message: 'bad', type: 'invalid_request_error' }))).toBe(false);
  });

  test('an abort part fails the read with the context’s abort reason, else an AbortError', async () => {
    const controller = new AbortController();
    const reason = new DOMException('The task timed out after 50 ms', 'TimeoutError');
    controller.abort(reason);
    await expect(readAiSdkStream(fullStream({ type: 'abort' }), { context: context(controller.signal).ctx })).rejects.toBe(reason);
    await expect(readAiSdkStream(fullStream({ type: 'abort' }))).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('a stream that ends without a finish returns no usage and reports none', async () => {
    const { reported, ctx } = context();
    expect(await readAiSdkStream(fullStream({ type: 'text-delta', text: 'x' }), { context: ctx })).toEqual({ text: 'x', usage: undefined });
    expect(reported).toEqual([]);
  });
});

describe('readAnthropicStream', () => {
  test('returns the final message, passes text to onText, and reports its usage', async () => {
    const listeners: ((text: string) => void)[] = [];
    const message = { content: [{ type: 'text', text: 'Hi there' }], usage: { input_tokens: 4, output_tokens: 2 } };
    const stream = {
      on: (_event: 'text', listener: (text: string) => void) => listeners.push(listener),
      finalMessage: async () => {
        for (const listener of listeners) {
          (listener as (delta: string, snapshot: string) => void)('Hi', 'Hi');
        }
        return message;
      },
    };
    const pieces: unknown[][] = [];
    const { reported, ctx } = context();
    expect(await readAnthropicStream(stream, { context: ctx, onText: (...args: unknown[]) => pieces.push(args) })).toBe(message);
    // Only the new text, not the SDK's snapshot as a second argument.
    expect(pieces).toEqual([['Hi']]);
    expect(reported).toEqual([{ totalTokens: 6, promptTokens: 4, completionTokens: 2 }]);
  });
});

describe('input checks', () => {
  const stream = { on: () => undefined, finalMessage: async () => ({}) };
  test.each([
    [() => readAiSdkStream(null as never), TypeError, "Expected `result` to be the AI SDK's streamText result (with a fullStream), got null (object)"],
    [() => readAiSdkStream({ text: 'done' } as never), TypeError, 'Expected `result`'],
    [() => readAnthropicStream({ finalMessage: async () => ({}) } as never), TypeError, "Expected `stream` to be the Anthropic SDK's MessageStream"],
    [() => readAnthropicStream(stream, { onText: 'print' } as never), TypeError, 'Expected `options.onText` to be a function, got "print" (string)'],
    [() => readAnthropicStream(stream, { context: {} } as never), TypeError, "Expected `options.context` to be the task's context (ctx), with reportUsage and signal"],
    [() => readAnthropicStream(stream, { ctx: {} } as never), TypeError, 'Unknown option `options.ctx`'],
  ])('%#: rejects bad input, naming it', async (call, kind, message) => {
    const failed = await call().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(kind);
    expect((failed as Error).message).toContain(message);
  });
});
