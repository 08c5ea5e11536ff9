import { type Attributes, context, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { now } from '../clock.js';
import type { Dispatcher } from '../dispatcher.js';
import { INSTRUMENT, SUBMIT_CONTEXT } from '../events.js';
import { defaultUsageOf } from '../policies/usage.js';

/** What `instrument(dispatcher, options)` takes. */
export interface InstrumentOptions {
  /** The tracer spans are made with. @default the global tracer provider's `duta` tracer */
  readonly tracer?: Tracer;
}

/**
 * Traces a dispatcher: a span per task attempt named `duta.task`, a child of the span active where the
 * task was submitted (it turns on the dispatcher's `submitContext` until stopped), with `duta.task.id`, `duta.task.attempt`, `duta.task.priority`, `duta.task.key`
 * (when set), `duta.queue.wait_ms`, `duta.task.status` and `duta.task.tokens` (when known); status ERROR
 * when the attempt fails; events for the retry it leads to and for pauses while it runs. A task cancelled
 * before it started gets no span. Returns the function that stops tracing.
 */
export function instrument(dispatcher: Dispatcher, options: InstrumentOptions = {}): () => void {
  if (typeof (dispatcher as { [INSTRUMENT]?: unknown } | null)?.[INSTRUMENT] !== 'function') {
    throw new TypeError('Expected `dispatcher` to be a duta Dispatcher');
  }
  if (options.tracer !== undefined && typeof (options.tracer as Partial<Tracer> | null)?.startSpan !== 'function') {
    throw new TypeError('Expected `options.tracer` to be an OpenTelemetry Tracer');
  }
  const tracer = options.tracer ?? trace.getTracer('duta');
  // Each submit captures its caller's context from now on, so its span is a child of the submitter's.
  const target = dispatcher as unknown as { [SUBMIT_CONTEXT]: boolean };
  const captured = target[SUBMIT_CONTEXT];
  target[SUBMIT_CONTEXT] = true;
  /** The open span of each running attempt, by task id. */
  const open = new Map<string, Span>();
  const end = (taskId: string, status: string, error: string | null, tokens: number | undefined): void => {
    const span = open.get(taskId);
    if (span === undefined) {
      return;
    }
    open.delete(taskId);
    span.setAttribute('duta.task.status', status);
    if (tokens !== undefined) {
      span.setAttribute('duta.task.tokens', tokens);
    }
    if (error !== null) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    }
    span.end();
  };
  const offs = [
    dispatcher[INSTRUMENT]('start', ({ taskId, attempt }, job) => {
      const attributes: Attributes = { 'duta.task.id': taskId, 'duta.task.attempt': attempt };
      if (job !== undefined) {
        attributes['duta.task.priority'] = job.priority;
        if (job.key !== '') {
          attributes['duta.task.key'] = job.key;
        }
        if (job.queuedAt !== -Infinity) {
          attributes['duta.queue.wait_ms'] = now() - job.queuedAt;
        }
      }
      // The start is announced in the task's own async context: the active span is its submitter's.
      open.set(taskId, tracer.startSpan('duta.task', { attributes }, context.active()));
    }),
    dispatcher[INSTRUMENT]('retry', ({ taskId, attempt, delayMs, error }, job) => {
      open.get(taskId)?.addEvent('duta.retry', { 'duta.task.attempt': attempt, 'duta.retry.delay_ms': delayMs, 'duta.retry.error': error });
      end(taskId, 'retry', error, job?.usage?.totalTokens);
    }),
    dispatcher[INSTRUMENT]('settle', (result, job) => {
      const tokens = job?.usage?.totalTokens ?? (result.success ? defaultUsageOf(result.result)?.totalTokens : undefined);
      end(result.taskId, result.status, result.success ? null : result.error, tokens);
    }),
    dispatcher[INSTRUMENT]('pause', ({ reason, untilMs }) => {
      for (const span of open.values()) {
        span.addEvent('duta.pause', untilMs === undefined ? { 'duta.pause.reason': reason } : { 'duta.pause.reason': reason, 'duta.pause.until_ms': untilMs });
      }
    }),
  ];
  return () => {
    target[SUBMIT_CONTEXT] = captured;
    for (const off of offs) {
      off();
    }
    // Spans of attempts still running end now, so none is left open for good.
    for (const taskId of [...open.keys()]) {
      end(taskId, 'untraced', null, undefined);
    }
  };
}
