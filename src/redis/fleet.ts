import { now, setTimer, type Timer } from '../clock.js';
import type { Admission, AdmissionQueue } from '../admission/admission.js';
import type { CoordinatorHost } from '../admission/coordinator.js';
import { type Job, QUEUED, WAITING } from '../core/job.js';
import { TaskIdError } from '../errors.js';
import type { Usage } from '../policies/budget.js';
import { RedisUnavailableError } from './errors.js';
import { type Codec, type RecordSender, TaskRecords } from './records.js';
import type { FleetStore } from './store.js';
import type { Admission as Answer, Candidate, RecordOp, Release } from './types.js';
import { type Ticket, Tickets } from './tickets.js';

/** What to do while Redis cannot be reached. */
export type Unavailable = 'wait' | 'local' | 'fail';

/** The first wait before asking again for a fleet slot held elsewhere; it doubles up to `SLOT_POLL_MAX_MS`. */
const SLOT_POLL_MS = 20;
const SLOT_POLL_MAX_MS = 1_000;
/** Waits between tries to reach Redis again while it is down. */
const PROBE_MS = 100;
const PROBE_MAX_MS = 2_000;
/** Record changes sent in one call at most; the rest go with the next. */
const OPS_PER_CALL = 500;

/**
 * A dispatcher's admission when it shares its limits through Redis. Each call sends, in one script
 * call, the releases of the attempts that ended since the last one, the changes to task records, and
 * as many queued jobs as there are free slots; the jobs Redis admits wait here, holding their leases,
 * until slots take them. Leases and this instance's liveness are renewed in one call a third of
 * `leaseMs` apart. While Redis cannot be reached, `onUnavailable` decides: start nothing, run on this
 * dispatcher's own limits, or fail the queue.
 */
export class FleetAdmission implements Admission, RecordSender {
  readonly metered = true;
  /** The budget cap the fleet has reached, as the last answer said. */
  spent: string | undefined = undefined;
  readonly records: TaskRecords;
  readonly #tickets: Tickets;
  #ready: Job[] = [];
  #asking: Promise<unknown> | null = null;
  #ops: { op: RecordOp; job: Job | undefined }[] = [];
  /** Recorded jobs not yet ended: while there are any, this instance keeps itself alive in Redis. */
  readonly #recorded = new Set<Job>();
  #flushing = false;
  #renewTimer: Timer = undefined;
  /** No ask before this time (`now()`): the fleet said to wait. */
  #notBefore = 0;
  /** The last refusal was for want of a fleet slot. */
  #fullFleet = false;
  #slotPoll = SLOT_POLL_MS;
  #down = false;
  #probeTimer: Timer = undefined;
  #probeMs = PROBE_MS;

  constructor(
    readonly store: FleetStore,
    readonly host: CoordinatorHost,
    readonly onUnavailable: Unavailable,
    spendOf: ((usage: Usage) => number) | undefined,
    codec: Codec,
  ) {
    this.#tickets = new Tickets(store, spendOf);
    this.records = new TaskRecords(store, this, codec);
    // A Retry-After seen here stops the fleet too.
    host.pause.onRateLimit = (ms) => {
      this.store.pause(ms).catch(() => undefined);
    };
  }

  next(queue: AdmissionQueue, free: number): Job | number | Promise<unknown> {
    const { host } = this;
    if (host.pause.held) {
      return Infinity;
    }
    const { deadline } = host;
    if (deadline !== null && deadline.timeLeft() <= 0) {
      host.expireAll(deadline.reason);
      return Infinity;
    }
    for (let job = this.#ready.shift(); job !== undefined; job = this.#ready.shift()) {
      if (job.state === QUEUED) {
        return job;
      }
      this.#release(job, null);
    }
    if (this.#asking !== null) {
      return this.#asking;
    }
    if (this.#down) {
      return this.#whileDown(queue, free);
    }
    const wait = this.#notBefore - now();
    if (wait > 0) {
      return wait;
    }
    const jobs: Job[] = [];
    for (let job = queue.take(); typeof job !== 'number'; job = jobs.length < free ? queue.take() : Infinity) {
      jobs.push(job);
    }
    if (jobs.length === 0) {
      return Infinity;
    }
    return this.#track(this.#ask(queue, jobs));
  }

  /** A call on its way: nothing else is asked meanwhile, and the slot loop waits for it. Never rejects. */
  #track(work: Promise<unknown>): Promise<unknown> {
    const done = (): void => {
      this.#asking = null;
    };
    const tracked = work.then(done, done);
    this.#asking = tracked;
    return tracked;
  }

  /** One call with `jobs` as candidates, each all or nothing. */
  async #ask(queue: AdmissionQueue, jobs: Job[]): Promise<void> {
    const tickets = jobs.map((job) => this.#tickets.of(job));
    const candidates = jobs.map((job, i): Candidate => {
      const { lease, spend } = tickets[i] as Ticket;
      return job.owner === null ? { lease, key: job.key, cost: job.cost, spend, record: job.id } : { lease, key: job.key, cost: job.cost, spend };
    });
    const answer = await this.#call(candidates);
    if (answer === undefined) {
      // Sent again with the next call: a lease Redis may have granted before the call timed out.
      for (const job of jobs.reverse()) {
        this.#putBack(queue, job);
      }
      return;
    }
    for (let i = jobs.length - 1; i >= 0; i--) {
      const job = jobs[i] as Job;
      if (answer.conflicts[i] === true) {
        this.host.failJob(job, inUse(job.id));
      } else if (answer.admitted[i] !== true) {
        this.#putBack(queue, job);
      }
    }
    answer.admitted.forEach((admitted, i) => {
      const job = jobs[i] as Job;
      if (admitted) {
        this.#tickets.admitted(tickets[i] as Ticket);
        if (job.state === QUEUED) {
          this.#ready.push(job);
        } else {
          // Cancelled while the answer was on its way.
          this.#release(job, null);
        }
      }
    });
    this.#learn(answer);
    this.#armRenew();
  }

  /**
   * The one way this instance calls Redis: the releases and record changes waiting, and `candidates`.
   * Resolves with the answer, or undefined when Redis could not be reached (what was sent is queued
   * again, and the fleet is down until a probe gets through); `strict` rejects instead.
   */
  async #call(candidates: readonly Candidate[], strict = false): Promise<Answer | undefined> {
    const releases = this.#tickets.takeReleases();
    const ops = this.#ops.splice(0, OPS_PER_CALL);
    let answer: Answer;
    try {
      answer = await this.store.admit(
        releases,
        candidates,
        ops.map(({ op }) => op),
      );
    } catch (error) {
      this.#tickets.requeue(releases);
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
    if (this.#tickets.hasReleases() || this.#ops.length > 0) {
      this.#flush();
    }
    return answer;
  }

  /** What an answer says besides admissions: the fleet's pause, its budget, and when to ask again. */
  #learn(answer: Answer): void {
    const { host } = this;
    if (answer.pausedForMs > 0) {
      host.pause.pauseFor(answer.pausedForMs, 'rate-limit', false);
    }
    this.spent = answer.exhausted?.message;
    if (this.spent !== undefined) {
      // The jobs admitted by the call that reached the cap were counted within it: they start.
      host.expire(this.spent, (job) => this.#tickets.isAdmitted(job));
    }
    const refused = answer.admitted.some((admitted, i) => !admitted && answer.conflicts[i] !== true);
    this.#fullFleet = refused && answer.blocked === 'slots';
    if (!refused) {
      this.#slotPoll = SLOT_POLL_MS;
      return;
    }
    if (answer.blocked === 'slots') {
      // Slots freed elsewhere are not announced: ask again soon, less often the longer the fleet is full.
      this.#notBefore = now() + Math.min(answer.retryInMs, this.#slotPoll);
      this.#slotPoll = Math.min(SLOT_POLL_MAX_MS, this.#slotPoll * 2);
    } else if (answer.retryInMs !== Infinity && answer.blocked !== 'pause') {
      this.#notBefore = now() + Math.max(1, answer.retryInMs);
    }
  }

  #putBack(queue: AdmissionQueue, job: Job): void {
    if (job.state === QUEUED) {
      queue.unshift(job);
    }
  }

  ended(job: Job, usage: Usage | undefined): void {
    if (!this.#tickets.has(job)) {
      // Started on this dispatcher's own limits while Redis was down.
      this.host.local.ended(job, usage);
      return;
    }
    this.#release(job, usage);
    // A fleet slot of ours is free: a fleet that was full for us has room now.
    if (this.#fullFleet && this.#notBefore > now()) {
      this.#notBefore = 0;
      this.host.poke();
    }
  }

  waiting(job: Job): void {
    if (job.owner === null) {
      this.records.waiting(job);
    }
  }

  /** Gives back the job's lease, with what it used (null: it never ran), soon. */
  #release(job: Job, usage: Usage | null | undefined): void {
    if (this.#tickets.release(job, usage)) {
      this.#flush();
    }
  }

  /** A record change, sent with the next call. */
  send(op: RecordOp, job?: Job): void {
    this.#ops.push({ op, job });
    if (job !== undefined) {
      if (op.op === 'n') {
        this.#recorded.add(job);
        this.#armRenew();
      } else if (op.op === 'e') {
        this.#recorded.delete(job);
      }
    }
    this.#flush();
  }

  async flush(): Promise<void> {
    // Changes already on their way in a call arrive with it, or are queued again if it fails.
    while (this.#asking !== null) {
      await this.#asking;
    }
    while (this.#ops.length > 0 || this.#tickets.hasReleases()) {
      const call = this.#call([], true);
      this.#track(call);
      await call;
    }
  }

  /** Sends the releases and record changes waiting, a microtask from now, unless an ask takes them first. */
  #flush(): void {
    if (this.#flushing || this.#down) {
      return;
    }
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      if (this.#asking !== null || this.#down || (this.#ops.length === 0 && !this.#tickets.hasReleases())) {
        return;
      }
      this.#track(
        this.#call([]).then((answer) => {
          if (answer !== undefined) {
            this.#learn(answer);
            this.host.poke();
          }
        }),
      );
    });
  }

  refuse(job: Job): string | undefined {
    return this.host.local.refuse(job);
  }

  dropped(job: Job): void {
    const index = this.#ready.indexOf(job);
    if (index >= 0) {
      this.#ready.splice(index, 1);
    }
    this.#release(job, null);
  }

  /** The dispatcher is idle: no timer is held. Releases and records already queued are still sent. */
  idle(): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** Renews every lease held and this instance's liveness, in one call, a third of `leaseMs` apart, while needed. */
  #armRenew(): void {
    if (this.#renewTimer !== undefined || (this.#tickets.held === 0 && this.#recorded.size === 0)) {
      return;
    }
    this.#renewTimer = setTimer(this.store.leaseMs / 3, this.#renew, undefined);
  }

  readonly #renew = (): void => {
    this.#renewTimer = undefined;
    if (this.#tickets.held === 0 && this.#recorded.size === 0) {
      return;
    }
    this.store.renew(this.#tickets.leases()).then(
      ({ lost }) => {
        // Run out (this process was frozen past leaseMs): renewing them again is no use.
        this.#tickets.forget(lost);
        this.#armRenew();
      },
      (error: unknown) => {
        this.#failed(error);
        this.#armRenew();
      },
    );
  };

  /** While Redis is down: this dispatcher's own limits, nothing, or the queue failed, as `onUnavailable` says. */
  #whileDown(queue: AdmissionQueue, free: number): Job | number | Promise<unknown> {
    if (this.onUnavailable === 'fail') {
      // Tasks that came since Redis went down: one try now, and they fail only if it fails too.
      return this.#track(
        this.#call([]).then((answer) => {
          if (answer === undefined) {
            this.host.fail(unreachable());
          } else {
            this.#learn(answer);
          }
        }),
      );
    }
    this.#probe();
    if (this.onUnavailable === 'local') {
      const job = this.host.local.next(queue, free);
      if (typeof job === 'object' && !('then' in job)) {
        // It runs on this dispatcher's limits: a lease it was given before Redis went down is given back.
        this.#release(job, null);
      }
      return job;
    }
    return Infinity;
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
    this.#probe();
  }

  /** Tries Redis again after a while, backing off, while there is something to do. */
  #probe(): void {
    if (this.#probeTimer !== undefined || !this.#down) {
      return;
    }
    this.#probeTimer = setTimer(
      this.#probeMs,
      () => {
        this.#probeTimer = undefined;
        this.#probeMs = Math.min(PROBE_MAX_MS, this.#probeMs * 2);
        if (this.#asking !== null) {
          this.#probe();
          return;
        }
        this.#track(
          this.#call([]).then((answer) => {
            if (answer !== undefined) {
              this.#learn(answer);
              this.host.poke();
            } else if (this.host.pending > 0 || this.#ops.length > 0 || this.#tickets.hasReleases() || this.#tickets.held > 0) {
              this.#probe();
            }
          }),
        );
      },
      undefined,
    );
  }

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

function inUse(id: string): TaskIdError {
  return new TaskIdError(id, 'is already pending or running on another instance of the fleet');
}
