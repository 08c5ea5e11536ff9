import { now } from '../clock.js';
import type { Admission, AdmissionQueue } from '../admission/admission.js';
import type { CoordinatorHost } from '../admission/coordinator.js';
import { type Job, QUEUED } from '../core/job.js';
import type { Usage } from '../policies/budget.js';
import { inUse, Line, type Unavailable } from './line.js';
import { type Codec, TaskRecords } from './records.js';
import type { FleetStore } from './store.js';
import { type Ticket, Tickets } from './tickets.js';
import type { Admission as Answer, Candidate } from './types.js';

export type { Unavailable } from './line.js';

/** The first wait before asking again for a fleet slot held elsewhere; it doubles up to `SLOT_POLL_MAX_MS`. */
const SLOT_POLL_MS = 20;
// Not much longer: a slot kept for a waiting instance stays free until it asks.
const SLOT_POLL_MAX_MS = 250;

/**
 * A dispatcher's admission when it shares its limits through Redis. Each ask sends, in one script call
 * (see `Line`), the releases and record changes waiting and as many queued jobs as there are free
 * slots; the jobs Redis admits wait here, holding their leases, until slots take them. While Redis
 * cannot be reached, `onUnavailable` decides: start nothing, run on this dispatcher's own limits, or
 * fail the queue.
 */
export class FleetAdmission implements Admission {
  readonly metered = true;
  /** The budget cap the fleet has reached, as the last answer said. */
  spent: string | undefined = undefined;
  readonly records: TaskRecords;
  readonly #tickets: Tickets;
  readonly #line: Line;
  #ready: Job[] = [];
  /** No ask before this time (`now()`): the fleet said to wait. */
  #notBefore = 0;
  /** The last refusal was for want of a fleet slot. */
  #fullFleet = false;
  #slotPoll = SLOT_POLL_MS;

  constructor(
    readonly store: FleetStore,
    readonly host: CoordinatorHost,
    readonly onUnavailable: Unavailable,
    spendOf: ((usage: Usage) => number) | undefined,
    codec: Codec,
  ) {
    this.#tickets = new Tickets(store, spendOf);
    this.#line = new Line(store, host, this.#tickets, onUnavailable, (answer) => this.#learn(answer));
    this.records = new TaskRecords(store, this.#line, codec);
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
    const line = this.#line;
    if (line.asking !== null) {
      return line.asking;
    }
    if (line.down) {
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
    return line.track(this.#ask(queue, jobs));
  }

  /** One call with `jobs` as candidates, each all or nothing. */
  async #ask(queue: AdmissionQueue, jobs: Job[]): Promise<void> {
    const tickets = jobs.map((job) => this.#tickets.of(job));
    const candidates = jobs.map((job, i): Candidate => {
      const { lease, spend } = tickets[i] as Ticket;
      return job.owner === null ? { lease, key: job.key, cost: job.cost, spend, record: job.id } : { lease, key: job.key, cost: job.cost, spend };
    });
    const answer = await this.#line.call(candidates);
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
    this.#line.armRenew();
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
      this.#line.flushSoon();
    }
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
    this.#line.stop();
  }

  /** While Redis is down: this dispatcher's own limits, nothing, or the queue failed, as `onUnavailable` says. */
  #whileDown(queue: AdmissionQueue, free: number): Job | number | Promise<unknown> {
    if (this.onUnavailable === 'fail') {
      return this.#line.tryOrFail();
    }
    this.#line.probe();
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
}
