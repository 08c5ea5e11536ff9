import { describe, expect, test } from '@jest/globals';
import { Dispatcher, aiSdkUsage, anthropicUsage, defaultUsageOf, openAiUsage } from '../src/index.js';

// What each client returns, as the task would hand it back: the shapes are the clients' documented ones.
const openAiChat = { choices: [], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42, prompt_tokens_details: { cached_tokens: 4 } } };
const openAiResponses = { output: [], usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 } };
const aiSdkGenerate = { text: 'hi', usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 }, totalUsage: { inputTokens: 14, outputTokens: 6, totalTokens: 20 } };
const anthropicMessage = { type: 'message', content: [], usage: { input_tokens: 20, output_tokens: 8 } };
const anthropicCached = { usage: { input_tokens: 5, output_tokens: 8, cache_creation_input_tokens: 100, cache_read_input_tokens: 1_000 } };

describe('usage readers', () => {
  test('openAiUsage reads total_tokens, with the prompt and completion counts of either API', () => {
    expect(openAiUsage(openAiChat)).toEqual({ totalTokens: 42, promptTokens: 12, completionTokens: 30 });
    expect(openAiUsage(openAiResponses)).toEqual({ totalTokens: 15, promptTokens: 10, completionTokens: 5 });
    expect(openAiUsage(aiSdkGenerate)).toBeUndefined();
  });

  test('aiSdkUsage prefers totalUsage (every step) to usage, and sums input and output when the total is missing', () => {
    expect(aiSdkUsage(aiSdkGenerate)).toEqual({ totalTokens: 20, promptTokens: 14, completionTokens: 6 });
    expect(aiSdkUsage({ usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 } })).toEqual({ totalTokens: 10, promptTokens: 7, completionTokens: 3 });
    expect(aiSdkUsage({ usage: { inputTokens: 7, outputTokens: 3, totalTokens: undefined } })).toEqual({ totalTokens: 10, promptTokens: 7, completionTokens: 3 });
    expect(aiSdkUsage({ usage: { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined } })).toBeUndefined();
    expect(aiSdkUsage({ usage: { totalTokens: 99 } })).toEqual({ totalTokens: 99 });
  });

  test('anthropicUsage adds input and output, and the cache tokens where present', () => {
    expect(anthropicUsage(anthropicMessage)).toEqual({ totalTokens: 28, promptTokens: 20, completionTokens: 8 });
    expect(anthropicUsage(anthropicCached)).toEqual({ totalTokens: 1_113, promptTokens: 1_105, completionTokens: 8 });
    expect(anthropicUsage({ usage: { input_tokens: 5, output_tokens: 8, cache_creation_input_tokens: null } })).toEqual({ totalTokens: 13, promptTokens: 5, completionTokens: 8 });
    expect(anthropicUsage({ usage: { input_tokens: 5 } })).toBeUndefined();
  });

  test('defaultUsageOf reads whichever of the three shapes it is given', () => {
    expect([openAiChat, aiSdkGenerate, anthropicMessage, anthropicCached].map((r) => defaultUsageOf(r)?.totalTokens)).toEqual([42, 20, 28, 1_113]);
  });

  test.each([
    [undefined],
    [null],
    ['text'],
    [{}],
    [{ usage: null }],
    [{ usage: { total_tokens: '42' } }],
    [{ usage: { total_tokens: -1 } }],
    [{ usage: { total_tokens: Number.NaN } }],
    [{ usage: { totalTokens: Infinity } }],
    [{ usage: { input_tokens: 1, output_tokens: -5 } }],
  ])('no usage in %p', (result) => {
    expect(defaultUsageOf(result)).toBeUndefined();
  });

  test('no getter is read: a result whose usage is computed (as the AI SDK’s streamText result) is left alone', () => {
    let reads = 0;
    const streamed = {
      get totalUsage() {
        reads++;
        return Promise.resolve({ totalTokens: 5 });
      },
      get usage() {
        reads++;
        throw new Error('must not be read');
      },
    };
    expect(defaultUsageOf(streamed)).toBeUndefined();
    expect(reads).toBe(0);
    // A data property inherited from a prototype is read.
    expect(defaultUsageOf(Object.create(openAiChat))).toEqual({ totalTokens: 42, promptTokens: 12, completionTokens: 30 });
  });
});

describe('the default usageOf against a token budget', () => {
  test.each([
    ['the AI SDK', aiSdkGenerate, 20],
    ['the Anthropic SDK', anthropicMessage, 28],
    ['the openai SDK', openAiChat, 42],
  ])('a task returning what %s gave counts its tokens', async (_, result, tokens) => {
    const d = new Dispatcher({ maxWorkers: 1, budget: { tokens: tokens * 2 } });
    const results = await d.dispatch(['a', 'b', 'c'].map((id) => ({ id, cost: 1, func: () => result })));
    // Two answers spend the budget exactly: the third never starts.
    expect(results.map((r) => r.status)).toEqual(['done', 'done', 'cancelled']);
    expect(results[2]?.error).toBe(`task "c" was cancelled: budget exhausted (tokens: ${tokens * 2} used of ${tokens * 2})`);
  });
});
