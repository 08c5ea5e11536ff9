import { setTimer, type Timer } from '../clock.js';
import type { CoordinatorHost } from '../admission/coordinator.js';
import { type Job, QUEUED, WAITING } from '../core/job.js';
import { TaskIdError } from '../errors.js';
import { RedisUnavailableError } from './errors.js';
import type { RecordSender } from './records.js';
import type { FleetStore } from './store.js';
import type { Tickets } from './tickets.js';
import type { Admission as Answer, Candidate, RecordOp } from './types.js';

/** What to do while Redis cannot be reached. */
export type Unavailable = 'wait' | 'local' | 'fail';

/** Waits between tries to reach Redis again while it is down. */
const PROBE_MS = 100;
const PROBE_MAX_MS = 2_000;
/** Record changes sent in one call at most; the rest go with the next. */
const OPS_PER_CALL = 500;

/**
 * One dispatcher's conversation with Redis: one call at a time, each carrying the releases and record
 * changes waiting (sent within a microtask when no ask carries them first); the renewal of its leases
 * and of its own liveness; and whether Redis can be reached, tried again with backoff while it cannot.
 */
export class Line implements RecordSender {
  #asking: Promise<unknown> | null = null;
  #ops: { op: RecordOp; job: Job | undefined }[] = [];
  /** Recorded jobs not yet ended: while there are any, this instance keeps itself alive in Redis. */
  readonly #recorded = new Set<Job>();
  #flushing = false;
  #renewTimer: Timer = undefined;
  #down = false;
  #probeTimer: Timer = undefined;
  #probeMs = PROBE_MS;

  constructor(
    readonly store: FleetStore,
    readonly host: CoordinatorHost,
    readonly tickets: Tickets,
    readonly onUnavailable: Unavailable,
    /** Applies what an answer says besides admissions (the fleet's pause and budget, when to ask again). */
    readonly learn: (answer: Answer) => void,
  ) {}

  /** A call on its way, if any: the slot loop waits for it. */
  get asking(): Promise<unknown> | null {
    return this.#asking;
  }

  /** Whether Redis could not be reached at the last call. */
  get down(): boolean {
    return this.#down;
  }

  /** Marks `work` as the call on its way; nothing else is asked meanwhile. The promise returned never rejects. */
  track(work: Promise<unknown>): Promise<unknown> {
    const done = (): void => {
      this.#asking = null;
    };
    const tracked = work.then(done, done);
    this.#asking = tracked;
    return tracked;
  }

  /**
   * The one way this instance calls Redis: the releases and record changes waiting, and `candidates`.
   * Resolves with the answer, or undefined when Redis could not be reached (what was sent is queued
   * again, and the fleet is down until a probe gets through); `strict` rejects instead.
   */
  async call(candidates: readonly Candidate[], strict = false): Promise<Answer | undefined> {
    const releases = this.tickets.takeReleases();
    const ops = this.#ops.splice(0, OPS_PER_CALL);
    let answer: Answer;
    try {
      answer = await this.store.admit(
        releases,
        candidates,
        ops.map(({ op }) => op),
      );
    } catch (error) {
      this.tickets.requeue(releases);
      this.#ops.unshift(...ops);
      this.#failed(error);
      if (strict) {
        throw error;
      }
      return undefined;
    }
    this.#up();
    // A new record refused: its id is unfinished on another instance. The task never starts here.
    let n = 0;
    for (const { op, job } of ops) {
      if (op.op === 'n' && answer.recorded[n++] === false && job !== undefined && (job.state === QUEUED || job.state === WAITING)) {
        this.host.failJob(job, inUse(job.id));
      }
    }
    if (this.#pending()) {
      this.flushSoon();
    }
    return answer;
  }

  #pending(): boolean {
    return this.#ops.length > 0 || this.tickets.hasReleases();
  }

  /** A record change, sent with the next call. */
  send(op: RecordOp, job?: Job): void {
    this.#ops.push({ op, job });
    if (job !== undefined) {
      if (op.op === 'n') {
        this.#recorded.add(job);
        this.armRenew();
      } else if (op.op === 'e') {
        this.#recorded.delete(job);
      }
    }
    this.flushSoon();
  }

  async flush(): Promise<void> {
    // Changes already on their way in a call arrive with it, or are queued again if it fails.
    while (this.#asking !== null) {
      await this.#asking;
    }
    while (this.#pending()) {
      const call = this.call([], true);
      this.track(call);
      await call;
    }
  }

  /** Sends the releases and record changes waiting, a microtask from now, unless an ask takes them first. */
  flushSoon(): void {
    if (this.#flushing || this.#down) {
      return;
    }
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      if (this.#asking === null && !this.#down && this.#pending()) {
        this.track(this.call([]).then((answer) => this.#answered(answer)));
      }
    });
  }

  #answered(answer: Answer | undefined): void {
    if (answer !== undefined) {
      this.learn(answer);
      this.host.poke();
    }
  }

  /** Renews every lease held and this instance's liveness, in one call, a third of `leaseMs` apart, while needed. */
  armRenew(): void {
    if (this.#renewTimer !== undefined || (this.tickets.held === 0 && this.#recorded.size === 0)) {
      return;
    }
    this.#renewTimer = setTimer(this.store.leaseMs / 3, this.#renew, undefined);
  }

  readonly #renew = (): void => {
    this.#renewTimer = undefined;
    if (this.tickets.held === 0 && this.#recorded.size === 0) {
      return;
    }
    this.store.renew(this.tickets.leases()).then(
      ({ lost }) => {
        // Run out (this process was frozen past leaseMs): renewing them again is no use.
        this.tickets.forget(lost);
        this.armRenew();
      },
      (error: unknown) => {
        this.#failed(error);
        this.armRenew();
      },
    );
  };

  /** The dispatcher is idle: no timer is held. Releases and records already queued are still sent. */
  stop(): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** With `onUnavailable: 'fail'`, tasks that came since Redis went down: one try now, and they fail only if it fails too. */
  tryOrFail(): Promise<unknown> {
    return this.track(
      this.call([]).then((answer) => {
        if (answer === undefined) {
          this.host.fail(unreachable());
        } else {
          this.learn(answer);
        }
      }),
    );
  }

  /**
   * A call failed: Redis is out of reach, or answered with an error (a refused script, which waiting may
   * not mend, but which is as much a reason not to start). Either way the fleet is down until a probe
   * gets through.
   */
  #failed(error: unknown): void {
    if (!this.#down) {
      this.#down = true;
      this.host.events.emit('coordinator', { available: false, error: error instanceof Error ? error.message : String(error) });
    }
    if (this.onUnavailable === 'fail') {
      this.host.fail(unreachable());
      return;
    }
    // Queued work goes on as `onUnavailable` says: asked again now, it takes the path for a down Redis.
    this.host.poke();
    this.probe();
  }

  /**
   * Tries Redis again after a while, backing off, while there is something to do. With only results and
   * releases to deliver (the dispatcher is idle), the timer does not keep the process alive on its own:
   * a process whose work is done still exits, and one that lives on delivers them when Redis is back.
   */
  probe(): void {
    if (this.#probeTimer !== undefined || !this.#down) {
      return;
    }
    const working = this.host.pending > 0 || this.tickets.held > 0;
    if (!working && !this.#pending()) {
      return;
    }
    this.#probeTimer = setTimer(this.#probeMs, this.#probe, undefined);
    if (!working) {
      (this.#probeTimer as { unref?: () => void } | undefined)?.unref?.();
    }
  }

  readonly #probe = (): void => {
    this.#probeTimer = undefined;
    this.#probeMs = Math.min(PROBE_MAX_MS, this.#probeMs * 2);
    if (this.#asking !== null) {
      this.probe();
      return;
    }
    // A failure probes again by itself (see #failed).
    this.track(this.call([]).then((answer) => answer !== undefined && this.#answered(answer)));
  };

  #up(): void {
    if (this.#down) {
      this.#down = false;
      this.#probeMs = PROBE_MS;
      clearTimeout(this.#probeTimer);
      this.#probeTimer = undefined;
      this.host.events.emit('coordinator', { available: true });
    }
  }
}

function unreachable(): RedisUnavailableError {
  return new RedisUnavailableError('admit', "could not be reached, so the task was not started (onUnavailable: 'fail')", false);
}

/** The error of a task whose id is unfinished on another instance of the fleet. */
export function inUse(id: string): TaskIdError {
  return new TaskIdError(id, 'is already pending or running on another instance of the fleet');
}
