import type { Job } from '../core/job.js';
import type { Usage } from '../policies/budget.js';
import type { FleetStore } from './store.js';
import type { Release } from './types.js';

/** An attempt's fleet reservation: its lease and what it reserved. Kept on the job from its first ask until it ends. */
export interface Ticket {
  readonly lease: string;
  readonly cost: number;
  readonly spend: number;
  /** Admitted by Redis: it holds its lease. */
  admitted: boolean;
}

/**
 * The fleet reservations of one dispatcher's jobs: a lease made once per attempt and sent again until
 * Redis answers for it (a lease granted by a call whose answer was lost is then found held, not taken
 * twice), the leases held (renewed together), and the releases waiting to go with the next call.
 */
export class Tickets {
  #releases: Release[] = [];
  readonly #held = new Set<string>();

  constructor(
    readonly store: FleetStore,
    /** Prices usage for `budget.spend`; none without a spend cap. */
    readonly spendOf: ((usage: Usage) => number) | undefined,
  ) {}

  /** The job's ticket for this attempt, made on first ask. */
  of(job: Job): Ticket {
    const notes = job.note();
    let ticket = notes.ticket as Ticket | null;
    if (ticket === null) {
      ticket = { lease: this.store.lease(), cost: job.cost, spend: this.#price({ totalTokens: job.cost }), admitted: false };
      notes.ticket = ticket;
    }
    return ticket;
  }

  has(job: Job): boolean {
    return (job.notes?.ticket ?? null) !== null;
  }

  isAdmitted(job: Job): boolean {
    return (job.notes?.ticket as Ticket | null | undefined)?.admitted === true;
  }

  admitted(ticket: Ticket): void {
    ticket.admitted = true;
    this.#held.add(ticket.lease);
  }

  /**
   * Lets go of the job's ticket: its release, with the usage the attempt reported (its estimate stands
   * without one), or nothing used when `usage` is null (it never ran), goes with the next call. Says
   * whether there was a ticket.
   */
  release(job: Job, usage: Usage | null | undefined): boolean {
    const notes = job.notes;
    const ticket = notes?.ticket as Ticket | null | undefined;
    if (notes === null || ticket === null || ticket === undefined) {
      return false;
    }
    notes.ticket = null;
    this.#held.delete(ticket.lease);
    const { lease, cost, spend } = ticket;
    const release: { -readonly [K in keyof Release]: Release[K] } = { lease, key: job.key, cost, spend };
    if (usage !== undefined) {
      release.used = usage === null ? 0 : usage.totalTokens;
      release.usedSpend = usage === null ? 0 : this.#price(usage);
    }
    this.#releases.push(release);
    return true;
  }

  takeReleases(): Release[] {
    const releases = this.#releases;
    this.#releases = [];
    return releases;
  }

  /** Releases a failed call carried, to go with the next one. */
  requeue(releases: readonly Release[]): void {
    this.#releases.unshift(...releases);
  }

  hasReleases(): boolean {
    return this.#releases.length > 0;
  }

  /** Leases held: admitted attempts not released. */
  get held(): number {
    return this.#held.size;
  }

  leases(): string[] {
    return [...this.#held];
  }

  /** Leases that ran out (the process froze past `leaseMs`): not renewed any more. */
  forget(lost: readonly string[]): void {
    for (const lease of lost) {
      this.#held.delete(lease);
    }
  }

  #price(usage: Usage): number {
    if (this.spendOf === undefined) {
      return 0;
    }
    try {
      const price = this.spendOf(usage);
      return Number.isFinite(price) && price > 0 ? price : 0;
    } catch {
      // A price function's bug prices the usage at nothing, as the local budget does.
      return 0;
    }
  }
}
