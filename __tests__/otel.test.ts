import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { instrument } from '../src/otel/index.js';
import { deferred, flush } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
const manager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(manager.enable());
});

afterAll(() => {
  context.disable();
});

const spans = () => exporter.getFinishedSpans().filter((s) => s.name === 'duta.task');

describe('duta/otel', () => {
  test('a span per attempt, child of the span active where the task was submitted, with the attributes', async () => {
    exporter.reset();
    const d = new Dispatcher({ maxWorkers: 1, retry: { retries: 1, minDelayMs: 1, jitter: 'none' } });
    const stop = instrument(d, { tracer });
    const gate = deferred();
    // Another caller's work holds the one slot, so the traced tasks wait in the queue.
    const other = d.dispatch([{ id: 'other', func: () => gate.promise }]);
    await flush();
    const parent = tracer.startSpan('request');
    const traced = context.with(trace.setSpan(context.active(), parent), () =>
      d.dispatch([
        { id: 'ok', key: 'tenant-a', priority: 2, func: () => ({ usage: { total_tokens: 42 } }) },
        {
          id: 'flaky',
          func: (ctx: TaskContext) => {
            if (ctx.attempt === 1) {
              throw Object.assign(new Error('busy'), { status: 503 });
            }
            ctx.reportUsage({ totalTokens: 7 });
            return 'fine';
          },
        },
        { id: 'bad', func: () => Promise.reject(new Error('broken')) },
      ]),
    );
    gate.resolve();
    await Promise.all([other, traced]);
    parent.end();
    stop();
    const byTask = (id: string) => spans().filter((s) => s.attributes['duta.task.id'] === id);
    const parentId = parent.spanContext().spanId;
    const [ok] = byTask('ok');
    expect(ok?.attributes).toMatchObject({
      'duta.task.id': 'ok',
      'duta.task.attempt': 1,
      'duta.task.priority': 2,
      'duta.task.key': 'tenant-a',
      'duta.task.status': 'done',
      'duta.task.tokens': 42,
    });
    expect(typeof ok?.attributes['duta.queue.wait_ms']).toBe('number');
    expect(ok?.attributes['duta.queue.wait_ms']).toBeGreaterThanOrEqual(0);
    expect(ok?.parentSpanContext?.spanId).toBe(parentId);
    expect(ok?.status.code).not.toBe(SpanStatusCode.ERROR);
    const flaky = byTask('flaky');
    expect(flaky.map((s) => [s.attributes['duta.task.attempt'], s.attributes['duta.task.status'], s.status.code])).toEqual([
      [1, 'retry', SpanStatusCode.ERROR],
      [2, 'done', SpanStatusCode.UNSET],
    ]);
    expect(flaky[0]?.events.map((e) => e.name)).toEqual(['duta.retry']);
    expect(flaky[1]?.attributes['duta.task.tokens']).toBe(7);
    expect(flaky.every((s) => s.parentSpanContext?.spanId === parentId)).toBe(true);
    const [bad] = byTask('bad');
    expect(bad?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'broken' });
    expect(bad?.attributes['duta.task.status']).toBe('failed');
    // 'other' was submitted outside the parent span: a root span.
    expect(byTask('other')[0]?.parentSpanContext).toBeUndefined();
    expect(byTask('ok')[0]?.attributes['duta.task.key']).toBe('tenant-a');
    expect(byTask('bad')[0]?.attributes).not.toHaveProperty('duta.task.key');
  });

  test('a task cancelled before it started gets no span; pauses show as events on running spans', async () => {
    exporter.reset();
    const d = new Dispatcher({ maxWorkers: 1 });
    instrument(d, { tracer });
    const controller = new AbortController();
    const gate = deferred();
    const pending = d.dispatch(
      [
        { id: 'running', func: async () => { d.pauseFor(10); await gate.promise; } },
        { id: 'never', func: () => 'x' },
      ],
      { signal: controller.signal },
    );
    await flush();
    controller.abort();
    gate.resolve();
    await pending;
    const finished = spans();
    expect(finished.map((s) => s.attributes['duta.task.id'])).toEqual(['running']);
    expect(finished[0]?.attributes['duta.task.status']).toBe('cancelled');
    expect(finished[0]?.events.map((e) => e.name)).toEqual(['duta.pause']);
  });

  test('stop() ends the spans of attempts still running, and a bad tracer is refused', async () => {
    exporter.reset();
    const d = new Dispatcher();
    const stop = instrument(d, { tracer });
    const gate = deferred();
    const pending = d.dispatch([{ id: 'long', func: () => gate.promise }]);
    await flush();
    stop();
    expect(spans().map((s) => [s.attributes['duta.task.id'], s.attributes['duta.task.status']])).toEqual([['long', 'untraced']]);
    gate.resolve();
    await pending;
    expect(spans()).toHaveLength(1);
    expect(() => instrument(d, { tracer: 5 as never })).toThrow('Expected `options.tracer` to be an OpenTelemetry Tracer');
  });

  test('the global tracer when none is given; a non-dispatcher is refused', async () => {
    exporter.reset();
    trace.setGlobalTracerProvider(provider);
    const d = new Dispatcher();
    instrument(d);
    await d.dispatch([{ id: 'g', func: () => 1 }]);
    expect(spans().map((s) => s.instrumentationScope.name)).toEqual(['duta']);
    expect(() => instrument({} as Dispatcher)).toThrow(TypeError);
  });
});
