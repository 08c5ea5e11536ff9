import type { Usage } from './budget.js';

// Readers of the usage the LLM clients return, one for each client's shape, and the default that tries each.

type Counts = Readonly<Record<string, unknown>>;

/**
 * A data property of `value`, own or inherited; undefined for a getter or a non-object. A getter may do
 * work (the AI SDK's `streamText` result starts consuming its stream when its `totalUsage` is read), and a
 * task's result is not ours to disturb.
 */
function data(value: unknown, name: string): unknown {
  for (let o = value; typeof o === 'object' && o !== null; o = Object.getPrototypeOf(o)) {
    const property = Object.getOwnPropertyDescriptor(o, name);
    if (property !== undefined) {
      return property.value;
    }
  }
  return undefined;
}

const counts = (result: unknown, name: string): Counts => {
  const found = data(result, name);
  return typeof found === 'object' && found !== null ? (found as Counts) : {};
};

const isCount = (n: unknown): n is number => typeof n === 'number' && n >= 0 && n !== Infinity;

/** Sums the counts given, missing ones as 0; undefined unless the first two are counts. */
const sum = (a: unknown, b: unknown, ...rest: unknown[]): number | undefined =>
  isCount(a) && isCount(b) ? [a, b, ...rest].reduce<number>((total, n) => total + (isCount(n) ? n : 0), 0) : undefined;

function usage(totalTokens: unknown, promptTokens: unknown, completionTokens: unknown): Usage | undefined {
  if (!isCount(totalTokens)) {
    return undefined;
  }
  return {
    totalTokens,
    ...(isCount(promptTokens) && { promptTokens }),
    ...(isCount(completionTokens) && { completionTokens }),
  };
}

/**
 * The openai SDK's shape: `result.usage.total_tokens`, with `prompt_tokens` and `completion_tokens` (Chat
 * Completions) or `input_tokens` and `output_tokens` (Responses). Cached prompt tokens are part of them.
 */
export function openAiUsage(result: unknown): Usage | undefined {
  const { total_tokens, prompt_tokens, completion_tokens, input_tokens, output_tokens } = counts(result, 'usage');
  return usage(total_tokens, prompt_tokens ?? input_tokens, completion_tokens ?? output_tokens);
}

/**
 * The AI SDK's shape, `{ inputTokens, outputTokens, totalTokens }`: `result.totalUsage` (every step of a
 * `generateText`), else `result.usage`; `inputTokens + outputTokens` when `totalTokens` is missing. The AI
 * SDK's `inputTokens` already include cached tokens. duta's own `Usage` (`{ totalTokens }`) reads the same.
 */
export function aiSdkUsage(result: unknown): Usage | undefined {
  for (const name of ['totalUsage', 'usage']) {
    const { inputTokens, outputTokens, totalTokens } = counts(result, name);
    const found = usage(isCount(totalTokens) ? totalTokens : sum(inputTokens, outputTokens), inputTokens, outputTokens);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

/**
 * The Anthropic SDK's shape: `result.usage.input_tokens + output_tokens`, plus
 * `cache_creation_input_tokens` and `cache_read_input_tokens` where present. Anthropic counts cached
 * tokens apart from `input_tokens`; all of them are tokens the model read, so all count as prompt tokens
 * here. To price cache reads at their discount, pass your own `usageOf`.
 */
export function anthropicUsage(result: unknown): Usage | undefined {
  const { input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens } = counts(result, 'usage');
  const prompt = sum(input_tokens, 0, cache_creation_input_tokens, cache_read_input_tokens);
  return usage(sum(prompt, output_tokens), prompt, output_tokens);
}

/**
 * The dispatcher's default `usageOf`: the first of `openAiUsage` (`usage.total_tokens`), `aiSdkUsage`
 * (`usage.totalTokens`, `totalUsage.totalTokens`) and `anthropicUsage` (`usage.input_tokens + output_tokens`)
 * that finds a count, so a task can return what any of the three clients gave it.
 */
export function defaultUsageOf(result: unknown): Usage | undefined {
  return openAiUsage(result) ?? aiSdkUsage(result) ?? anthropicUsage(result);
}
