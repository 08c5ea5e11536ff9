/**
 * A stand-in for a chat-completion call, until the examples run against the mock HTTP server: it takes
 * a realistic, random time to answer and, like `fetch`, stops at once when its signal aborts.
 */

export interface Completion {
  text: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface CallOptions {
  signal?: AbortSignal;
  /** A fixed latency; otherwise drawn from a log-normal around `medianMs`. */
  latencyMs?: number;
  medianMs?: number;
}

/** A log-normal latency (a few slow calls, many around the median), as LLM APIs show. */
export function realisticLatencyMs(medianMs: number, spread = 0.5): number {
  const gaussian = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return medianMs * Math.exp(spread * gaussian);
}

export function complete(prompt: string, { signal, latencyMs, medianMs = 800 }: CallOptions = {}): Promise<Completion> {
  const delay = latencyMs ?? realisticLatencyMs(medianMs);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      const words = prompt.split(/\s+/).length;
      const text = `Summary of "${prompt.slice(0, 40)}": ${Math.max(3, Math.round(words / 4))} key points.`;
      const completion = Math.round(text.length / 4);
      resolve({ text, usage: { prompt_tokens: words, completion_tokens: completion, total_tokens: words + completion } });
    }, delay);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
