import { now, setTimer } from '../clock.js';
import type { Emitter } from '../events.js';
import type { Admission } from '../admission/admission.js';
import type { Pause } from '../admission/pause.js';
import type { Aimd } from '../policies/adaptive.js';
import type { Usage } from '../policies/budget.js';
import { backoffMs, isOverloaded, isRetryable, retryAfterMs } from '../policies/retry.js';
import { type DispatchResult, type FailureStatus, failure, messageOf, success } from '../result.js';
import { Attempt } from './attempt.js';
import { type Job, SETTLED, WAITING } from './job.js';
import type { Ending } from './slot.js';

/** What settling an attempt needs from the scheduler. */
export interface OutcomeHost {
  readonly admission: Admission;
  readonly pause: Pause;
  readonly aimd: Aimd | undefined;
  readonly events: Emitter;
  /** Milliseconds before the deadline; null without one. */
  readonly timeLeft: (() => number) | null;
  readonly random: () => number;
  /** The tokens a successful attempt used, from its result. */
  readonly usageOf: (result: unknown) => Usage | undefined;
  /** The job waits for a retry, holding no slot; `back` puts it in the queue again. */
  wait(job: Job): void;
  back(job: Job): void;
  /** Ends a queued or waiting job without starting it (again). */
  end(job: Job, status: 'timeout', reason: unknown, error: string): void;
  /** Hands the job's one result to the dispatcher. */
  record(job: Job, result: DispatchResult): void;
}

/**
 * The end of each attempt: a result, or a retry that waits holding no slot and then queues the job
 * again ahead of newer jobs of its priority. Also what an end tells the policies: the usage for rate
 * limits and budgets, overload for adaptive mode, and a provider's Retry-After for the pause.
 */
export class Outcomes {
  /** Retries scheduled so far. */
  retries = 0;

  constructor(readonly host: OutcomeHost) {}

  settle(job: Job, ending: Ending, inflight: number, cuts: number, attempt: Attempt): void {
    const { host } = this;
    const { status, outcome, error, final } = ending;
    if (job.owner !== null) {
      job.owner.running--;
    }
    const { admission, aimd } = host;
    const reported = Attempt.usage(attempt);
    if (reported !== undefined || job.notes !== null) {
      job.note().usage = reported;
    }
    if (admission.metered) {
      admission.ended(job, status === 'done' ? (reported ?? this.#usageOf(outcome)) : reported);
    }
    if (status === 'done') {
      aimd?.success(inflight);
      this.record(job, 'done', outcome, error);
      return;
    }
    (job.note().errors ??= []).push(error);
    // A 429, a 503 or a 529 (or an overloaded stream error): the provider is at its limit.
    const overloaded = status === 'failed' && isOverloaded(outcome);
    if (status === 'timeout' || overloaded) {
      aimd?.overload(cuts);
    } else {
      // Successes must come in a row to raise the limit.
      aimd?.failure();
    }
    if (status === 'cancelled') {
      this.record(job, status, outcome, error);
      return;
    }
    const { retry } = job.settings;
    const asked = status === 'failed' ? retryAfterMs(outcome) : undefined;
    if (asked !== undefined && overloaded) {
      // The provider's limit is shared by every worker: nothing starts before it said to come back.
      host.pause.pauseFor(asked, 'rate-limit');
    }
    const spent = admission.spent;
    if (spent !== undefined && !final) {
      // No attempt may start past the budget: the task ends now rather than wait out a backoff for nothing.
      this.record(job, 'cancelled', outcome, `task ${JSON.stringify(job.id)} was cancelled: ${spent}`);
      return;
    }
    const verdict = final || job.attempts > retry.retries ? false : retryable(job, status, outcome);
    if (verdict !== true) {
      this.record(job, status, outcome, typeof verdict === 'string' ? `${error} (${verdict})` : error);
      return;
    }
    if (asked !== undefined && asked > retry.maxDelayMs) {
      const message = `${error} (the provider asked to retry after ${asked} ms, more than retry.maxDelayMs: ${retry.maxDelayMs} ms)`;
      this.record(job, status, outcome, message);
      return;
    }
    const { random } = host;
    const delayMs =
      asked === undefined
        ? backoffMs(retry, job.attempts, random)
        : Math.min(retry.maxDelayMs, asked + (retry.jitter === 'full' ? random() * retry.minDelayMs : 0));
    if (now() + delayMs >= (job.startedAt as number) + job.settings.totalTimeoutMs || (host.timeLeft !== null && delayMs >= host.timeLeft())) {
      // The next attempt could not start before the total time, or the deadline, runs out.
      this.record(job, status, outcome, error);
      return;
    }
    job.state = WAITING;
    host.wait(job);
    job.note().timer = setTimer(delayMs, this.#requeue, job);
    this.retries++;
    host.events.emit('retry', { taskId: job.id, attempt: job.attempts, delayMs, error }, job);
  }

  readonly #requeue = (job: Job): void => {
    this.host.back(job);
    // The total timeout goes on counting while it waits for a slot, or out a pause.
    job.note().timer = setTimer((job.startedAt as number) + job.settings.totalTimeoutMs - now(), this.#totalOver, job);
  };

  /** A retry waiting in the queue ran out of total time: it ends as timed out without starting again. */
  readonly #totalOver = (job: Job): void => {
    const error = job.totalTimeoutError();
    this.host.end(job, 'timeout', new DOMException(error, 'TimeoutError'), error);
  };

  /** Ends the job with its one result. */
  record(job: Job, status: FailureStatus | 'done', outcome: unknown, error: string): void {
    const durationMs = job.startedAt === null ? 0 : now() - job.startedAt;
    job.state = SETTLED;
    this.host.record(
      job,
      status === 'done'
        ? success(job.id, outcome, durationMs, job.attempts)
        : failure(job.id, status, error, outcome, durationMs, job.attempts, job.notes?.errors ?? []),
    );
  }

  #usageOf(result: unknown): Usage | undefined {
    try {
      return this.host.usageOf(result);
    } catch {
      return undefined;
    }
  }
}

/** Whether the attempt's failure is worth another attempt; a string says why not (a `retryOn` that threw). */
function retryable(job: Job, status: FailureStatus, outcome: unknown): boolean | string {
  const { retryable: marked } = (outcome ?? {}) as { retryable?: unknown };
  if (typeof marked === 'boolean') {
    return marked;
  }
  const { retryOn } = job.settings.retry;
  if (retryOn !== undefined) {
    try {
      return retryOn(outcome, job.attempts) === true;
    } catch (error) {
      return `not retried: retry.retryOn threw: ${messageOf(error, job.id)}`;
    }
  }
  return status === 'timeout' || isRetryable(outcome);
}
