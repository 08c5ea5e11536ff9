import type { ServerResponse } from 'node:http';
import { type ChatRequest, type Protocol, answerText } from './request.js';

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
  streamErrors: number;
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
  readonly protocol: Protocol;
  readonly request: ChatRequest;
  readonly index: number;
  readonly random: () => number;
  readonly latency: number;
  readonly headers: Headers;
  /** The request's `max_tokens`, or the default: the answer's longest length. */
  readonly maxTokens: number;
  /** The prompt's tokens, as charged at admission. */
  readonly promptTokens: number;
  /** A stream is broken off halfway by an error event of this status's kind; undefined answers it whole. */
  readonly breakWith?: number | undefined;
}

/**
 * Answers an admitted request after its latency. A stream sends its first event at half the latency
 * and the rest spread over the other half, so a client sees a time to first token and can hang up
 * mid-stream; a stream broken off sends its first half, then the error event, and ends.
 */
export function answer(res: ServerResponse, count: Counters, admitted: Admitted, a: Answer): void {
  const completion = Math.min(a.maxTokens, 8 + Math.floor(a.random() * 32));
  const text = answerText(completion, a.random);
  const tokens = { prompt: a.promptTokens, completion };
  if (!a.request.stream) {
    after(admitted, a.latency, () => {
      count.tokens += tokens.prompt + tokens.completion;
      send(res, count, 200, a.protocol.body(a.index, a.request, text, tokens), a.headers);
    });
    return;
  }
  let events = a.protocol.events(a.index, a.request, text, tokens);
  if (a.breakWith !== undefined) {
    events = [...events.slice(0, Math.max(2, Math.floor(events.length / 2))), a.protocol.streamError(a.breakWith)];
  }
  const gapMs = a.latency / 2 / events.length;
  const next = (i: number): void => {
    if (i === 0) {
      writeHead(res, count, 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...a.headers });
    }
    const last = i + 1 === events.length;
    if (last && a.breakWith !== undefined) {
      // The server, not the client, ends this one.
      admitted.endedByServer = true;
      count.streamErrors++;
    }
    res.write(events[i]);
    if (!last) {
      after(admitted, gapMs, () => next(i + 1));
    } else if (a.breakWith !== undefined) {
      res.end();
    } else {
      res.end(() => {
        count.tokens += tokens.prompt + tokens.completion;
      });
    }
  };
  after(admitted, a.latency / 2, () => next(0));
}
