/**
 * What the examples call: the official openai SDK, talking to duta's mock LLM server on 127.0.0.1 —
 * a real HTTP provider stand-in with latency, limits and faults. Point `baseURL` at a real provider
 * (and use a real key) and the examples run unchanged.
 */
import OpenAI from 'openai';
import { type MockLlm, type MockLlmOptions, startMockLlm } from 'duta/testing';

export interface Llm {
  server: MockLlm;
  client: OpenAI;
  /** One chat completion; `signal` aborts the HTTP request itself. */
  complete(prompt: string, options?: { signal?: AbortSignal; maxTokens?: number }): Promise<{ text: string; totalTokens: number }>;
  close(): Promise<void>;
}

export async function startLlm(options: MockLlmOptions = {}): Promise<Llm> {
  const server = await startMockLlm({ latencyMs: { median: 400, spread: 0.5 }, ...options });
  // Retries are the dispatcher's business, not the SDK's: each call is one request.
  const client = new OpenAI({ baseURL: server.url, apiKey: 'mock-key', maxRetries: 0 });
  return {
    server,
    client,
    async complete(prompt, { signal, maxTokens = 64 } = {}) {
      const completion = await client.chat.completions.create(
        { model: 'mock-gpt', messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens },
        { signal },
      );
      return { text: completion.choices[0]?.message.content ?? '', totalTokens: completion.usage?.total_tokens ?? 0 };
    },
    close: () => server.close(),
  };
}
