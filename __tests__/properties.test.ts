import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import fc from 'fast-check';
import { Dispatcher, type DispatchResult, Task, type TaskContext } from '../src/index.js';
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
  /** Which of the two task signals the task carries, if any. */
  signal: 0 | 1 | undefined;
  /** For a batch read from an async generator: the ms the generator takes to make this task. */
  readDelayMs: number;
}

/** When a task signal aborts: never, before any task is made (already aborted), or at a time. */
type AbortAt = 'never' | 'before' | number;

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
  signal: fc.constantFrom<0 | 1 | undefined>(undefined, undefined, 0, 1),
  readDelayMs: fc.constantFrom(0, 0, 1, 5),
});

const abortAtArb: fc.Arbitrary<AbortAt> = fc.oneof(fc.constantFrom<AbortAt>('never', 'before'), fc.integer({ min: 0, max: 150 }));

const scenarioArb = fc.record({
  specs: fc.array(specArb, { minLength: 1, maxLength: 12 }),
  maxWorkers: fc.integer({ min: 1, max: 4 }),
  timeoutMs: fc.integer({ min: 10, max: 100 }),
  abortGraceMs: fc.integer({ min: 1, max: 40 }),
  abortAtMs: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
  resizeAt: fc.option(fc.tuple(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 4 })), { nil: undefined }),
  shutdownAt: fc.option(fc.tuple(fc.integer({ min: 0, max: 150 }), fc.boolean()), { nil: undefined }),
  retries: fc.integer({ min: 0, max: 2 }),
  /** How the batch is given: an array, or lazily from a generator or an async generator. */
  feed: fc.constantFrom('array', 'generator', 'async-generator'),
  /** cancel(id) calls: when (-1: right after the tasks are given) and which task (past the last: an unknown id). */
  cancels: fc.array(fc.tuple(fc.integer({ min: -1, max: 150 }), fc.integer({ min: 0, max: 13 })), { maxLength: 4 }),
  clearAt: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
  signalsAbortAt: fc.tuple(abortAtArb, abortAtArb),
});

/** A retryable failure, as an HTTP client shapes it. */
const unavailable = (id: string) => Object.assign(new Error(`503 ${id}`), { status: 503 });

type Place = { priority: number; seq: number };
type TestTask = Task<(ctx: TaskContext) => Promise<unknown>>;

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
        const violations: string[] = [];
        /** Each task's place in the arrival order, which a retry keeps; set when the dispatcher accepts it. */
        const seqOf = new Map<string, Place>();
        /** Tasks accepted and not started nor ended, as the test sees them. */
        const queued = new Map<string, Place>();
        const accepted = new Set<string>();
        /** Tasks whose own signal had aborted when they were given: they end at once. */
        const abortedWhenGiven = new Set<string>();
        const tasks: TestTask[] = [];
        /**
         * For each task, the tasks the dispatcher had already taken to start when it accepted this one (a
         * task's `status` leaves 'pending' when it is taken; its function runs a microtask later). A task
         * read lazily may be accepted in that microtask: the one taken before it did not pass it over.
         */
        const takenBefore = new Map<string, Set<string>>();
        let seq = 0;
        const accept = (id: string, priority: number, signal: AbortSignal | undefined): void => {
          const place = { priority, seq: seq++ };
          accepted.add(id);
          if (signal?.aborted === true) {
            abortedWhenGiven.add(id);
          }
          takenBefore.set(id, new Set(tasks.filter((task) => task.status !== 'pending').map((task) => task.id)));
          seqOf.set(id, place);
          queued.set(id, place);
        };
        /**
         * The call that ends tasks as cancelled while it runs (a cancel, a clear, an abort, a shutdown),
         * if one is running: each task it ends is noted with it, and no other call may end one so.
         */
        let cancelling: string | null = null;
        const cancelledBy = new Map<string, string>();
        const during = <T>(label: string, call: () => T): T => {
          const outer = cancelling;
          cancelling = label;
          try {
            return call();
          } finally {
            cancelling = outer;
          }
        };
        // Exactly one result per task: settle events counted by id.
        const settles = new Map<string, number>();
        d.on('settle', (r) => {
          settles.set(r.taskId, (settles.get(r.taskId) ?? 0) + 1);
          queued.delete(r.taskId);
          if (cancelling !== null) {
            cancelledBy.set(r.taskId, cancelling);
          }
        });
        // Functions running now, counted by the test itself (stubborn ones, which never settle, aside).
        let running = 0;
        const controller = new AbortController();
        // The two signals tasks may carry, each aborted before anything starts, at a time, or never.
        const taskControllers = [new AbortController(), new AbortController()] as const;
        scenario.signalsAbortAt.forEach((at, i) => {
          if (at === 'before') {
            taskControllers[i]?.abort(new Error(`signal ${i}`));
          }
        });
        // Listeners on every signal, to check none is left behind.
        const listeners = [controller, ...taskControllers].map((c) => countListeners(c.signal));
        let limit = scenario.maxWorkers;
        const startedAt = new Map<string, number>();
        let stopped = false;
        let batchAborted = false;
        const inBatch = new Set<string>();
        const func = (id: string, spec: Spec) => (ctx: TaskContext) => {
          // At a start: no slot over the cap in force, and no queued task that should have gone first.
          if (d.activeCount > limit) {
            violations.push(`${id} started with ${d.activeCount} slots held, cap ${limit}`);
          }
          // Nothing starts once it is cancelled, nor after shutdown(false), nor a batch task after the batch's abort.
          if (cancelledBy.has(id) || stopped || (batchAborted && inBatch.has(id))) {
            violations.push(`${id} started after it was cancelled`);
          }
          // A retry starts from its first arrival's place: ahead of newer tasks of its priority.
          const me = seqOf.get(id) as Place;
          queued.delete(id);
          for (const [other, o] of queued) {
            if ((o.priority > me.priority || (o.priority === me.priority && o.seq < me.seq)) && takenBefore.get(other)?.has(id) !== true) {
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
            // A grace of 1 ms leaves no whole millisecond inside it (a timer of 0 ms runs a millisecond on, a
            // tie with the grace's end): such a function stops in a microtask (a promise's: the fake timers
            // count a queueMicrotask job as a pending timer).
            const stop = (): void => reject(ctx.signal.reason);
            ctx.signal.addEventListener('abort', () => (scenario.abortGraceMs > 1 ? later(stop, scenario.abortGraceMs - 1) : void Promise.resolve().then(stop)));
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
        scenario.specs.forEach((spec, i) => {
          const id = `t${i}`;
          tasks.push(
            new Task({
              id,
              func: func(id, spec),
              priority: spec.priority,
              ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
              ...(spec.signal === undefined ? {} : { signal: taskControllers[spec.signal].signal }),
            }),
          );
        });

        const submitted: string[] = [];
        const batch: { task: TestTask; spec: Spec }[] = [];
        scenario.specs.forEach((spec, i) => {
          const task = tasks[i] as TestTask;
          if (spec.viaSubmit) {
            accept(task.id, task.priority, task.signal);
            d.submit(task);
            submitted.push(task.id);
          } else {
            batch.push({ task, spec });
            inBatch.add(task.id);
          }
        });
        // A lazily read batch: the dispatcher reads a task's priority when it accepts it, which tells the
        // test the moment; the generator notes that it was closed or ran to its end.
        const readBatch: string[] = [];
        const lazy = (task: TestTask): TestTask => {
          let read = false;
          const { priority } = task;
          return Object.defineProperty(task, 'priority', {
            get: (): number => {
              if (!read) {
                read = true;
                readBatch.push(task.id);
                accept(task.id, priority, task.signal);
              }
              return priority;
            },
          });
        };
        let generatorDone = scenario.feed === 'array';
        function* fromGenerator(): Generator<TestTask> {
          try {
            for (const { task } of batch) {
              yield lazy(task);
            }
          } finally {
            generatorDone = true;
          }
        }
        async function* fromAsyncGenerator(): AsyncGenerator<TestTask> {
          try {
            for (const { task, spec } of batch) {
              await (spec.readDelayMs === 0 ? Promise.resolve() : new Promise<void>((resolve) => later(resolve, spec.readDelayMs)));
              yield lazy(task);
            }
          } finally {
            generatorDone = true;
          }
        }
        let dispatched: Promise<DispatchResult[]>;
        if (scenario.feed === 'array') {
          for (const { task } of batch) {
            accept(task.id, task.priority, task.signal);
            readBatch.push(task.id);
          }
          dispatched = d.dispatch(batch.map(({ task }) => task), { signal: controller.signal });
        } else {
          dispatched = d.dispatch(scenario.feed === 'generator' ? fromGenerator() : fromAsyncGenerator(), { signal: controller.signal });
        }

        for (const [at, target] of scenario.cancels) {
          const id = `t${target}`;
          const cancel = (): void => {
            const unfinished = accepted.has(id) && !settles.has(id);
            const said = during(`cancel ${id}`, () => d.cancel(id, `cancel ${id}`));
            if (said !== unfinished) {
              violations.push(`cancel(${id}) said ${said} for a task ${unfinished ? 'unfinished' : 'unknown or finished'}`);
            }
            if (said && cancelledBy.get(id) !== `cancel ${id}`) {
              violations.push(`cancel(${id}) said true but did not end it`);
            }
          };
          if (at < 0) {
            cancel();
          } else {
            later(cancel, at);
          }
        }
        if (scenario.clearAt !== undefined) {
          later(() => {
            const pending = d.pendingCount;
            const cleared = during('clear', () => d.clear());
            if (cleared !== pending) {
              violations.push(`clear() said ${cleared} with ${pending} tasks pending`);
            }
          }, scenario.clearAt);
        }
        scenario.signalsAbortAt.forEach((at, i) => {
          if (typeof at === 'number') {
            later(() => during(`signal ${i}`, () => taskControllers[i]?.abort(new Error(`signal ${i}`))), at);
          }
        });
        if (scenario.abortAtMs !== undefined) {
          later(() => {
            batchAborted = true;
            during('abort', () => controller.abort(new Error('abort')));
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
              stopped = true;
            }
            void during('shutdown', () => d.shutdown(wait));
          }, at);
        }

        await jest.advanceTimersByTimeAsync(5_000);
        const results = await dispatched;
        stopped = true;
        await during('shutdown', () => d.shutdown(false));
        await jest.advanceTimersByTimeAsync(5_000);

        expect(violations).toEqual([]);
        expect(leftAtIdle).toEqual([]);
        expect([...settles.values()].every((n) => n === 1)).toBe(true);
        // Every task accepted has its one result; a lazily read batch may end before its last tasks are read.
        expect(settles.size).toBe(accepted.size);
        expect(generatorDone).toBe(true);
        // dispatch: one result per task read, in input order.
        expect(results.map((r) => r.taskId)).toEqual(readBatch);
        expect(readBatch).toEqual(batch.slice(0, readBatch.length).map(({ task }) => task.id));
        if (scenario.abortAtMs === undefined && !(scenario.shutdownAt !== undefined && !scenario.shutdownAt[1])) {
          // Nothing stopped the reading: every task was read.
          expect(readBatch.length).toBe(batch.length);
        }
        const all: DispatchResult[] = [...results, ...submitted.map((id) => d.getResult(id) as DispatchResult)];
        // Each result's checks, as plain comparisons: a failed one is named in `wrong`, and one expect
        // reports them all (an expect per check made most of this test's run time).
        const wrong: string[] = [];
        for (const r of all) {
          const check = (ok: boolean, what: string): void => {
            if (!ok) {
              wrong.push(`${r.taskId} (${r.status}, ${r.attempts} attempts, "${r.error}"): ${what}`);
            }
          };
          check(d.results.get(r.taskId) === r, 'results has it');
          check((await d.waitFor(r.taskId)) === r, 'waitFor gives it');
          const spec = scenario.specs[Number(r.taskId.slice(1))] as Spec;
          const timeoutMs = spec.timeoutMs ?? scenario.timeoutMs;
          const signalled = abortedWhenGiven.has(r.taskId);
          check(r.attempts <= scenario.retries + 1, 'no more attempts than the retries allow');
          // Cancelled exactly when a cancelling call ended it, or its signal had aborted when it was given.
          check(r.status === 'cancelled' === (cancelledBy.has(r.taskId) || signalled), `cancelled by ${cancelledBy.get(r.taskId)}`);
          if (r.success) {
            check(['value', 'flaky', 'sync-value'].includes(spec.outcome) && r.result === r.taskId, `a ${spec.outcome} succeeded`);
            // A flaky task succeeds on its second attempt, which needs a retry. A value due in the very
            // millisecond its attempt times out may come first or second: when second, a retry follows.
            const attempts = spec.outcome === 'flaky' ? 2 : 1;
            check(spec.latencyMs === timeoutMs ? r.attempts >= attempts : r.attempts === attempts, `${attempts} attempts expected`);
            continue;
          }
          check(r.error.length > 0 && r.attemptErrors.length <= r.attempts, 'an error, and no more attempt errors than attempts');
          if (r.status === 'failed') {
            check(['throw', 'reject-string', 'reject-undefined', 'flaky', 'always-503', 'sync-throw-number'].includes(spec.outcome), `a ${spec.outcome} failed`);
            // Retried until the retries ran out (unless a timeout or cancel ended it first).
            check(spec.outcome !== 'always-503' || scenario.shutdownAt !== undefined || r.attempts === scenario.retries + 1, 'retried to the end');
          } else if (r.status === 'timeout') {
            // Each attempt may time out; the last one's timeout ended it, counted from the first start.
            check(r.durationMs >= timeoutMs && (r.attempts > 1 || r.durationMs === timeoutMs), `timed out after ${r.durationMs} ms`);
          } else {
            const by = cancelledBy.get(r.taskId);
            const cancelled = (reason: string): string => `task "${r.taskId}" was cancelled: ${reason}`;
            const own = spec.signal === undefined ? undefined : cancelled(`signal ${spec.signal}`);
            const reasons = [`cancel ${r.taskId}`, 'abort', 'The queue was cleared', 'The dispatcher shut down'].map(cancelled);
            check(reasons.includes(r.error) || r.error === own, 'a known reason');
            if (signalled) {
              // Its signal had aborted when it was given: it never started.
              check(r.attempts === 0 && r.error === own, 'cancelled by its signal before it started');
            } else if (by === `cancel ${r.taskId}`) {
              check(r.error === cancelled(by), 'the reason given to cancel()');
            } else if (by?.startsWith('cancel ') === true || by?.startsWith('signal ') === true) {
              // Its own signal ended it: it aborted now, or had aborted before the call read it in.
              check(r.error === own, 'its own signal\'s reason');
            } else if (by === 'abort') {
              // A batch's signal cancels only the batch.
              check(!spec.viaSubmit, 'a submitted task is not cancelled by a batch\'s signal');
            }
            check(startedAt.has(r.taskId) || r.durationMs === 0, 'no duration without a start');
          }
        }
        expect(wrong).toEqual([]);
        expect(d.activeCount + d.pendingCount).toBe(0);
        expect(jest.getTimerCount()).toBe(0);
        expect(listeners.map((l) => l.count())).toEqual([0, 0, 0]);
        // Rejections that nobody handles surface after a macrotask turn; none may come from the dispatcher.
        await jest.advanceTimersByTimeAsync(1);
        expect(unhandled).toEqual([]);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 400), ...(process.env.PROPERTY_SEED === undefined ? {} : { seed: Number(process.env.PROPERTY_SEED), path: process.env.PROPERTY_PATH }) },
    );
  }, 120_000);
});
