import type { ServerResponse } from 'node:http';
import { type ChatRequest, answerText, completionBody, streamEvents } from './completions.js';

/** An admitted request: in flight until its response is sent or its connection closes. */
export interface Admitted {
  timer: ReturnType<typeof setTimeout> | undefined;
  endedByServer: boolean;
}

/** The counters of one epoch: `reset()` starts a new object, so requests from before it count in the old one. */
export interface Counters {
  requests: number;
  byStatus: Record<string, number>;
  peakConcurrent: number;
  clientAborted: number;
  tokens: number;
}

export type Headers = Record<string, string | number>;

/** Timers take a signed 32-bit delay and fire at once past it: a longer latency waits this long instead. */
const MAX_DELAY_MS = 2_147_483_647;

/** Writes the status line and headers, counting the status as sent. */
function writeHead(res: ServerResponse, count: Counters, status: number, headers: Headers): ServerResponse {
  count.byStatus[status] = (count.byStatus[status] ?? 0) + 1;
  return res.writeHead(status, headers);
}

export function send(res: ServerResponse, count: Counters, status: number, body: string, headers: Headers = {}): void {
  writeHead(res, count, status, { 'content-type': 'application/json', ...headers }).end(body);
}

/** Waits `ms` on the admitted request's own timer, which a client abort or `close()` clears. */
export function after(admitted: Admitted, ms: number, then: () => void): void {
  admitted.timer = setTimeout(then, Math.min(ms, MAX_DELAY_MS));
}

export interface Answer {
  readonly request: ChatRequest;
  readonly index: number;
  readonly random: () => number;
  readonly latency: number;
  readonly headers: Headers;
  /** The request's `max_tokens`, or the default: the answer's longest length. */
  readonly maxTokens: number;
  /** The prompt's tokens, as charged at admission. */
  readonly promptTokens: number;
}

/**
 * Answers an admitted request after its latency. A stream sends its first event at half the latency
 * and the rest spread over the other half, so a client sees a time to first token and can hang up
 * mid-stream.
 */
export function answer(res: ServerResponse, count: Counters, admitted: Admitted, a: Answer): void {
  const completionTokens = Math.min(a.maxTokens, 8 + Math.floor(a.random() * 32));
  const text = answerText(completionTokens, a.random);
  const usage = { prompt_tokens: a.promptTokens, completion_tokens: completionTokens, total_tokens: a.promptTokens + completionTokens };
  const id = `chatcmpl-mock-${a.index}`;
  if (!a.request.stream) {
    after(admitted, a.latency, () => {
      count.tokens += usage.total_tokens;
      send(res, count, 200, completionBody(id, a.request.model, text, usage), a.headers);
    });
    return;
  }
  const events = streamEvents(id, a.request.model, text, usage, a.request.includeUsage);
  const gapMs = a.latency / 2 / events.length;
  const next = (i: number): void => {
    if (i === 0) {
      writeHead(res, count, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...a.headers });
    }
    res.write(events[i]);
    if (i + 1 < events.length) {
      after(admitted, gapMs, () => next(i + 1));
    } else {
      res.end(() => {
        count.tokens += usage.total_tokens;
      });
    }
  };
  after(admitted, a.latency / 2, () => next(0));
}
