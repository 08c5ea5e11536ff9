import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { Dispatcher, type DispatchResult, type TaskContext } from '../src/index.js';
import { countListeners } from './helpers.js';

// Random workloads under fake timers, checked against the invariants that make duta trustworthy.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  jest.useFakeTimers();
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  jest.useRealTimers();
  process.off('unhandledRejection', onUnhandled);
});

type Outcome =
  | 'value'
  | 'throw'
  | 'reject-string'
  | 'reject-undefined'
  | 'hang-cooperative'
  | 'hang-stubborn'
  | 'flaky'
  | 'always-503'
  | 'sync-value'
  | 'sync-throw-number';

interface Spec {
  latencyMs: number;
  outcome: Outcome;
  priority: number;
  timeoutMs: number | undefined;
  viaSubmit: boolean;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  latencyMs: fc.integer({ min: 0, max: 60 }),
  outcome: fc.constantFrom<Outcome>(
    'value',
    'value',
    'value',
    'throw',
    'reject-string',
    'reject-undefined',
    'hang-cooperative',
    'hang-stubborn',
    'flaky',
    'always-503',
    'sync-value',
    'sync-throw-number',
  ),
  priority: fc.integer({ min: -2, max: 2 }),
  timeoutMs: fc.option(fc.integer({ min: 5, max: 80 }), { nil: undefined }),
  viaSubmit: fc.boolean(),
});

const scenarioArb = fc.record({
  specs: fc.array(specArb, { minLength: 1, maxLength: 12 }),
  maxWorkers: fc.integer({ min: 1, max: 4 }),
  timeoutMs: fc.integer({ min: 10, max: 100 }),
  abortGraceMs: fc.integer({ min: 1, max: 40 }),
  abortAtMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
  resizeAt: fc.option(fc.tuple(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 4 })), { nil: undefined }),
  shutdownAt: fc.option(fc.tuple(fc.integer({ min: 0, max: 150 }), fc.boolean()), { nil: undefined }),
  retries: fc.integer({ min: 0, max: 2 }),
});

/** A retryable failure, as an HTTP client shapes it. */
const unavailable = (id: string) => Object.assign(new Error(`503 ${id}`), { status: 503 });

describe('properties of random workloads', () => {
  test('every task ends with exactly one consistent result; starts respect the cap and the priority order', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const d = new Dispatcher({
          maxWorkers: scenario.maxWorkers,
          timeoutMs: scenario.timeoutMs,
          abortGraceMs: scenario.abortGraceMs,
          maxResults: Infinity,
          retry: { retries: scenario.retries, minDelayMs: 3, maxDelayMs: 20 },
        });
        // The test's own pending timers: at idle, every other pending timer would be the dispatcher's.
        let ownTimers = 0;
        const later = (fn: () => void, ms: number): void => {
          ownTimers++;
          setTimeout(() => {
            ownTimers--;
            fn();
          }, ms);
        };
        const leftAtIdle: number[] = [];
        d.on('idle', () => {
          if (jest.getTimerCount() !== ownTimers) {
            leftAtIdle.push(jest.getTimerCount() - ownTimers);
          }
        });
        // Exactly one result per task: settle events counted by id.
        const settles = new Map<string, number>();
        d.on('settle', (r) => settles.set(r.taskId, (settles.get(r.taskId) ?? 0) + 1));
        // Functions running now, counted by the test itself (stubborn ones, which never settle, aside).
        let running = 0;
        const controller = new AbortController();
        // Listeners on the batch's signal, to check none is left behind.
        const listeners = countListeners(controller.signal);
        /** Each task's place in the arrival order, which a retry keeps. */
        const seqOf = new Map<string, { priority: number; seq: number }>();
        let limit = scenario.maxWorkers;
        const queued = new Map<string, { priority: number; seq: number }>();
        const startedAt = new Map<string, number>();
        const violations: string[] = [];
        let cancelledAll = false;
        const func = (id: string, spec: Spec) => (ctx: TaskContext) => {
          // At a start: no slot over the cap in force, and no queued task that should have gone first.
          if (d.activeCount > limit) {
            violations.push(`${id} started with ${d.activeCount} slots held, cap ${limit}`);
          }
          // A retry starts from its first arrival's place: ahead of newer tasks of its priority.
          const me = seqOf.get(id) as { priority: number; seq: number };
          queued.delete(id);
          for (const [other, o] of queued) {
            if (o.priority > me.priority || (o.priority === me.priority && o.seq < me.seq)) {
              violations.push(`${id} started before ${other}`);
            }
          }
          startedAt.set(id, Date.now());
          if (spec.outcome === 'sync-value') {
            return id as unknown as Promise<unknown>;
          }
          if (spec.outcome === 'sync-throw-number') {
            throw 42;
          }
          if (spec.outcome !== 'hang-stubborn') {
            running++;
            if (running > limit) {
              violations.push(`${id} started with ${running} functions running, cap ${limit}`);
            }
          }
          return new Promise((resolve, reject) => {
            if (spec.outcome === 'hang-stubborn') {
              return;
            }
            // Every other function is cooperative: it stops a little after its signal aborts, within the
            // grace, and its slot must stay held till then.
            ctx.signal.addEventListener('abort', () => later(() => reject(ctx.signal.reason), Math.max(0, scenario.abortGraceMs - 1)));
            if (spec.outcome === 'hang-cooperative') {
              return;
            }
            later(() => {
              if (spec.outcome === 'value' || (spec.outcome === 'flaky' && ctx.attempt > 1)) {
                resolve(id);
              } else if (spec.outcome === 'throw') {
                reject(new Error(`boom ${id}`));
              } else if (spec.outcome === 'reject-undefined') {
                reject(undefined);
              } else if (spec.outcome === 'flaky' || spec.outcome === 'always-503') {
                reject(unavailable(id));
              } else {
                reject(`string ${id}`);
              }
            }, spec.latencyMs);
          }).finally(() => {
            running--;
          });
        };

        const submitted: string[] = [];
        const batch: { id: string; func: (ctx: TaskContext) => Promise<unknown>; priority: number; timeoutMs?: number }[] = [];
        let seq = 0;
        scenario.specs.forEach((spec, i) => {
          const id = `t${i}`;
          const task = { id, func: func(id, spec), priority: spec.priority, ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }) };
          if (spec.viaSubmit) {
            queued.set(id, { priority: spec.priority, seq: seq++ });
            seqOf.set(id, queued.get(id) as { priority: number; seq: number });
            d.submit(task);
            submitted.push(id);
          } else {
            batch.push(task);
          }
        });
        for (const task of batch) {
          queued.set(task.id, { priority: task.priority, seq: seq++ });
          seqOf.set(task.id, queued.get(task.id) as { priority: number; seq: number });
        }
        const dispatched = d.dispatch(batch, { signal: controller.signal });

        if (scenario.abortAtMs !== undefined) {
          later(() => {
            controller.abort(new Error('abort'));
            for (const task of batch) {
              queued.delete(task.id);
            }
          }, scenario.abortAtMs);
        }
        if (scenario.resizeAt !== undefined) {
          const [at, size] = scenario.resizeAt;
          later(() => {
            // The new cap is in force at once for new starts: above it, nothing starts.
            limit = size;
            d.maxWorkers = size;
          }, at);
        }
        if (scenario.shutdownAt !== undefined) {
          const [at, wait] = scenario.shutdownAt;
          later(() => {
            if (!wait) {
              cancelledAll = true;
              queued.clear();
            }
            void d.shutdown(wait);
          }, at);
        }

        await jest.advanceTimersByTimeAsync(5_000);
        const results = await dispatched;
        await d.shutdown(false);
        await jest.advanceTimersByTimeAsync(5_000);

        expect(violations).toEqual([]);
        expect(leftAtIdle).toEqual([]);
        expect([...settles.values()].every((n) => n === 1)).toBe(true);
        expect(settles.size).toBe(scenario.specs.length);
        // dispatch: one result per task, in input order.
        expect(results.map((r) => r.taskId)).toEqual(batch.map((t) => t.id));
        const all: DispatchResult[] = [...results, ...submitted.map((id) => d.getResult(id) as DispatchResult)];
        for (const r of all) {
          expect(r).toBeDefined();
          expect(d.results.get(r.taskId)).toBe(r);
          await expect(d.waitFor(r.taskId)).resolves.toBe(r);
          const spec = scenario.specs[Number(r.taskId.slice(1))] as Spec;
          const timeoutMs = spec.timeoutMs ?? scenario.timeoutMs;
          expect(r.attempts).toBeLessThanOrEqual(scenario.retries + 1);
          if (r.success) {
            expect(['value', 'flaky', 'sync-value']).toContain(spec.outcome);
            expect(r.result).toBe(r.taskId);
            // A flaky task succeeds on its second attempt, which needs a retry.
            expect(r.attempts).toBe(spec.outcome === 'flaky' ? 2 : 1);
          } else {
            expect(r.error.length).toBeGreaterThan(0);
            expect(r.attemptErrors.length).toBeLessThanOrEqual(r.attempts);
            if (r.status === 'failed') {
              expect(['throw', 'reject-string', 'reject-undefined', 'flaky', 'always-503', 'sync-throw-number']).toContain(spec.outcome);
              if (spec.outcome === 'always-503' && !cancelledAll && scenario.shutdownAt === undefined) {
                // Retried until the retries ran out (unless a timeout or cancel ended it first).
                expect(r.attempts).toBe(scenario.retries + 1);
              }
            } else if (r.status === 'timeout') {
              // Each attempt may time out; the last one's timeout ended it, counted from the first start.
              expect(r.durationMs).toBeGreaterThanOrEqual(timeoutMs);
              if (r.attempts === 1) {
                expect(r.durationMs).toBe(timeoutMs);
              }
            } else {
              // A batch's signal cancels only the batch; only shutdown(false) cancels submitted tasks.
              expect(spec.viaSubmit ? cancelledAll : scenario.abortAtMs !== undefined || cancelledAll).toBe(true);
              if (!startedAt.has(r.taskId)) {
                expect(r.durationMs).toBe(0);
              }
            }
          }
        }
        expect(d.activeCount + d.pendingCount).toBe(0);
        expect(jest.getTimerCount()).toBe(0);
        expect(listeners.count()).toBe(0);
        // Rejections that nobody handles surface after a macrotask turn; none may come from the dispatcher.
        await jest.advanceTimersByTimeAsync(1);
        expect(unhandled).toEqual([]);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 400) },
    );
  }, 60_000);
});
