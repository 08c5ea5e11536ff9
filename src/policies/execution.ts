import { now, startTimer } from '../clock.js';
import { type DispatchResult, type FailureStatus, failure, messageOf, success } from '../result.js';
import { type Job, RUNNING } from '../scheduler/job.js';
import { pending, track } from '../task.js';
import type { TaskContext } from '../types.js';

/** Records a job's one result; the job's state is `SETTLED` afterwards. */
export type Recorder = (job: Job, result: DispatchResult) => void;

/**
 * Runs one job with its own `AbortController` and timeout, and sets `job.abort` for ending it early.
 * Resolves, never rejects, when the job's slot may be reused.
 *
 * An aborted job (timed out or cancelled) has its result recorded at the abort, while its slot stays
 * held until the function settles or `abortGraceMs` runs out: cooperative tasks never push real
 * concurrency above the cap, and uncooperative ones cannot wedge the dispatcher.
 */
export function execute(job: Job, abortGraceMs: number, record: Recorder): Promise<void> {
  return new Promise((release) => {
    // Made on first use: a task that never reads its signal (or is never aborted) costs no controller.
    let controller: AbortController | undefined;
    const startedAt = now();
    const end = (status: FailureStatus | 'done', value: unknown, error = ''): void => {
      // A job already recorded as timed out or cancelled drops its late outcome.
      if (job.state === RUNNING) {
        const durationMs = now() - startedAt;
        record(job, status === 'done' ? success(job.id, value, durationMs) : failure(job.id, status, error, value, durationMs));
      }
    };
    const free = (): void => {
      stopTimer?.();
      job.abort = null;
      release();
    };
    job.abort = (status, reason, error) => {
      if (job.state !== RUNNING) {
        return;
      }
      stopTimer?.();
      end(status, reason, error);
      (controller ??= new AbortController()).abort(reason);
      stopTimer = startTimer(abortGraceMs, free);
    };
    let stopTimer = startTimer(job.timeoutMs, () => {
      const error = `task ${JSON.stringify(job.id)} timed out after ${job.timeoutMs} ms`;
      job.abort?.('timeout', new DOMException(error, 'TimeoutError'), error);
    });
    job.state = RUNNING;
    if (job.task !== null) {
      track(job.task, { ...pending, status: 'running' });
    }
    const fail = (error: unknown): void => {
      end('failed', error, messageOf(error, job.id));
      free();
    };
    try {
      const context: TaskContext = {
        get signal() {
          return (controller ??= new AbortController()).signal;
        },
        taskId: job.id,
        attempt: 1,
      };
      Promise.resolve((job.func as (...args: unknown[]) => unknown)(...job.args, context)).then((value) => {
        end('done', value);
        free();
      }, fail);
    } catch (error) {
      fail(error);
    }
  });
}
