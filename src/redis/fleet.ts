import { now, setTimer, type Timer } from '../clock.js';
import type { Admission, AdmissionQueue } from '../admission/admission.js';
import type { CoordinatorHost } from '../admission/coordinator.js';
import { type Job, QUEUED } from '../core/job.js';
import type { Usage } from '../policies/budget.js';
import { RedisUnavailableError } from './errors.js';
import type { FleetStore } from './store.js';
import type { Admission as Answer, Release } from './types.js';

/** What to do while Redis cannot be reached. */
export type Unavailable = 'wait' | 'local' | 'fail';

/** An attempt's fleet reservation: its lease and what it reserved. Kept on the job while it is asked about or runs. */
interface Ticket {
  readonly lease: string;
  readonly cost: number;
  readonly spend: number;
  /** Admitted by Redis (it holds its lease). */
  admitted: boolean;
}

/** The first wait before asking again for a fleet slot held elsewhere; it doubles up to `SLOT_POLL_MAX_MS`. */
const SLOT_POLL_MS = 20;
const SLOT_POLL_MAX_MS = 1_000;
/** Waits between tries to reach Redis again while it is down. */
const PROBE_MS = 100;
const PROBE_MAX_MS = 2_000;

/**
 * A dispatcher's admission when it shares its limits through Redis. Each ask sends, in one script
 * call, the releases of the attempts that ended since the last one and as many queued jobs as there
 * are free slots; the jobs Redis admits wait here, holding their leases, until slots take them. The
 * leases of running attempts are renewed in one call a third of `leaseMs` apart. While Redis cannot be
 * reached, `onUnavailable` decides: start nothing, run on this dispatcher's own limits, or fail the queue.
 */
export class FleetAdmission implements Admission {
  readonly metered = true;
  /** The budget cap the fleet has reached, as the last answer said. */
  spent: string | undefined = undefined;
  #ready: Job[] = [];
  #asking: Promise<void> | null = null;
  #releases: Release[] = [];
  #flushing = false;
  /** Leases of admitted attempts, renewed while held. */
  readonly #held = new Set<string>();
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
    readonly spendOf: ((usage: Usage) => number) | undefined,
  ) {
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
      this.#release(job, 0);
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
    this.#asking = this.#ask(queue, jobs);
    return this.#asking;
  }

  /** One call: the releases waiting, and `jobs` as candidates, each all or nothing. */
  async #ask(queue: AdmissionQueue, jobs: Job[]): Promise<void> {
    const releases = this.#takeReleases();
    const tickets = jobs.map((job) => this.#ticketOf(job));
    let answer: Answer;
    try {
      answer = await this.store.admit(
        releases,
        jobs.map((job, i) => ({ lease: (tickets[i] as Ticket).lease, key: job.key, cost: job.cost, spend: (tickets[i] as Ticket).spend })),
      );
    } catch (error) {
      this.#asking = null;
      // Sent again with the next call: a release, or a lease Redis may have granted before the call timed out.
      this.#releases.unshift(...releases);
      for (const job of jobs.reverse()) {
        this.#putBack(queue, job);
      }
      this.#failed(error);
      return;
    }
    this.#asking = null;
    this.#up();
    answer.admitted.forEach((admitted, i) => {
      const job = jobs[i] as Job;
      const ticket = tickets[i] as Ticket;
      if (admitted) {
        ticket.admitted = true;
        this.#held.add(ticket.lease);
        if (job.state === QUEUED) {
          this.#ready.push(job);
        } else {
          // Cancelled while the answer was on its way.
          this.#release(job, 0);
        }
      }
    });
    for (let i = jobs.length - 1; i >= 0; i--) {
      if (answer.admitted[i] !== true) {
        this.#putBack(queue, jobs[i] as Job);
      }
    }
    this.#learn(answer);
    this.#armRenew();
    if (this.#releases.length > 0) {
      this.#flush();
    }
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
      host.expire(this.spent, (job) => (job.notes?.ticket as Ticket | null | undefined)?.admitted === true);
    }
    const refused = answer.admitted.some((admitted) => !admitted);
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

  /** The job's ticket for this attempt: made once, and sent again until Redis answers it. */
  #ticketOf(job: Job): Ticket {
    const notes = job.note();
    let ticket = notes.ticket as Ticket | null;
    if (ticket === null) {
      const spend = this.#price(job.cost);
      ticket = { lease: this.store.lease(), cost: job.cost, spend, admitted: false };
      notes.ticket = ticket;
    }
    return ticket;
  }

  #price(tokens: number): number {
    if (this.spendOf === undefined) {
      return 0;
    }
    try {
      const price = this.spendOf({ totalTokens: tokens });
      return Number.isFinite(price) && price > 0 ? price : 0;
    } catch {
      return 0;
    }
  }

  ended(job: Job, usage: Usage | undefined): void {
    const ticket = job.notes?.ticket as Ticket | null | undefined;
    if (ticket === null || ticket === undefined) {
      // Started on this dispatcher's own limits while Redis was down.
      this.host.local.ended(job, usage);
      return;
    }
    this.#release(job, usage?.totalTokens, usage);
    // A fleet slot of ours is free: a fleet that was full for us has room now.
    if (this.#fullFleet && this.#notBefore > now()) {
      this.#notBefore = 0;
      this.host.poke();
    }
  }

  /** Queues the release of the job's lease with what it used, and sends it soon if no ask carries it. */
  #release(job: Job, used: number | undefined, usage?: Usage): void {
    const notes = job.notes;
    const ticket = notes?.ticket as Ticket | null | undefined;
    if (notes === null || ticket === null || ticket === undefined) {
      return;
    }
    notes.ticket = null;
    this.#held.delete(ticket.lease);
    const release: { -readonly [K in keyof Release]: Release[K] } = { lease: ticket.lease, key: job.key, cost: ticket.cost, spend: ticket.spend };
    if (used !== undefined) {
      release.used = used;
      release.usedSpend = usage === undefined ? 0 : this.#priceOf(usage);
    }
    this.#releases.push(release);
    this.#flush();
  }

  #priceOf(usage: Usage): number {
    if (this.spendOf === undefined) {
      return 0;
    }
    try {
      const price = this.spendOf(usage);
      return Number.isFinite(price) && price > 0 ? price : 0;
    } catch {
      return 0;
    }
  }

  #takeReleases(): Release[] {
    const releases = this.#releases;
    this.#releases = [];
    return releases;
  }

  /** Sends the releases waiting, a microtask from now, unless an ask takes them first. */
  #flush(): void {
    if (this.#flushing || this.#down) {
      return;
    }
    this.#flushing = true;
    queueMicrotask(() => {
      this.#flushing = false;
      if (this.#asking !== null || this.#releases.length === 0 || this.#down) {
        return;
      }
      const releases = this.#takeReleases();
      this.#asking = this.store.admit(releases, []).then(
        (answer) => {
          this.#asking = null;
          this.#up();
          this.#learn(answer);
          if (this.#releases.length > 0) {
            this.#flush();
          }
          this.host.poke();
        },
        (error: unknown) => {
          this.#asking = null;
          this.#releases.unshift(...releases);
          this.#failed(error);
        },
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
    // Also a lease asked for by a call whose answer was lost: Redis may have granted it all the same.
    this.#release(job, 0);
  }

  /** The dispatcher is idle: no timer is held. Releases already queued are still sent. */
  idle(): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** Renews every lease held, in one call, a third of `leaseMs` apart, while there are any. */
  #armRenew(): void {
    if (this.#renewTimer !== undefined || this.#held.size === 0) {
      return;
    }
    this.#renewTimer = setTimer(this.store.leaseMs / 3, this.#renew, undefined);
  }

  readonly #renew = (): void => {
    this.#renewTimer = undefined;
    if (this.#held.size === 0) {
      return;
    }
    this.store.renew([...this.#held]).then(
      ({ lost }) => {
        // Run out (this process was frozen past leaseMs): renewing them again is no use.
        for (const lease of lost) {
          this.#held.delete(lease);
        }
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
    if (this.onUnavailable !== 'fail') {
      this.#probe();
    }
    if (this.onUnavailable === 'local') {
      const job = this.host.local.next(queue, free);
      if (typeof job === 'object' && !('then' in job)) {
        // It runs on this dispatcher's limits: a lease it was given before Redis went down is given back.
        this.#release(job, 0);
      }
      return job;
    }
    if (this.onUnavailable === 'fail') {
      // Tasks that came since Redis went down: one try now, and they fail only if it does too.
      this.#asking ??= this.#tryNow();
      return this.#asking;
    }
    return Infinity;
  }

  /** One call to see whether Redis is back, carrying the releases waiting; the queue fails if it is not. */
  async #tryNow(): Promise<void> {
    const releases = this.#takeReleases();
    try {
      const answer = await this.store.admit(releases, []);
      this.#asking = null;
      this.#up();
      this.#learn(answer);
    } catch {
      this.#asking = null;
      this.#releases.unshift(...releases);
      this.host.fail(unreachable());
    }
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

  /** Tries Redis again after a while, backing off; only while there is work waiting. */
  #probe(): void {
    if (this.#probeTimer !== undefined || !this.#down) {
      return;
    }
    this.#probeTimer = setTimer(this.#probeMs, () => {
      this.#probeTimer = undefined;
      this.#probeMs = Math.min(PROBE_MAX_MS, this.#probeMs * 2);
      const releases = this.#takeReleases();
      this.store.admit(releases, []).then(
        (answer) => {
          this.#up();
          this.#learn(answer);
          this.host.poke();
        },
        () => {
          this.#releases.unshift(...releases);
          if (this.host.pending > 0 || this.#releases.length > 0 || this.#held.size > 0) {
            this.#probe();
          }
        },
      );
    }, undefined);
  }

  #up(): void {
    if (this.#down) {
      this.#down = false;
      this.#probeMs = PROBE_MS;
      clearTimeout(this.#probeTimer);
      this.#probeTimer = undefined;
      this.host.events.emit('coordinator', { available: true });
      if (this.#releases.length > 0) {
        this.#flush();
      }
    }
  }
}

function unreachable(): RedisUnavailableError {
  return new RedisUnavailableError('admit', "could not be reached, so the task was not started (onUnavailable: 'fail')", false);
}
