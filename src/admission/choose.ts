import type { Job } from '../core/job.js';
import type { Scheduler } from '../core/scheduler.js';
import type { DispatcherOptions, ResolvedOptions } from '../options.js';
import { type Admission, OpenAdmission } from './admission.js';
import { ATTACH } from './coordinator.js';
import type { DeadlineWatch } from './deadline.js';
import { LocalAdmission } from './local.js';

/** What choosing an admission needs from the dispatcher. */
export interface AdmissionSite {
  readonly scheduler: Scheduler;
  /** Ends unfinished jobs as cancelled: queued and waiting ones, and running ones too when `running`; not those `keep` keeps. */
  expire(reason: string, running: boolean, keep?: (job: Job) => boolean): void;
  /** The jobs queued or waiting to retry. */
  unstarted(): Iterable<Job>;
}

/**
 * The cheapest admission that does what the options ask: the open one without limits, this process's
 * own limits, or the one a fleet coordinator hands back (which may fall back on the local one).
 */
export function chooseAdmission(
  resolved: ResolvedOptions,
  deadline: DeadlineWatch | null,
  options: DispatcherOptions | undefined,
  site: AdmissionSite,
): Admission {
  const { scheduler } = site;
  const { pause, events } = scheduler;
  const { budget, rateLimit, coordinator } = resolved;
  const expire = (reason: string): void => site.expire(reason, false);
  const expireAll = (reason: string): void => site.expire(reason, true);
  const local =
    deadline === null && budget === undefined && rateLimit === undefined
      ? new OpenAdmission(pause)
      : new LocalAdmission(pause, deadline, budget, rateLimit, {
          expire,
          expireAll,
          poke: () => scheduler.refunded(),
          get pending() {
            return scheduler.queued + scheduler.waiting;
          },
        });
  if (coordinator === undefined) {
    return local;
  }
  return coordinator[ATTACH]({
    pause,
    deadline,
    local,
    rateLimit: options?.rateLimit,
    budget: options?.budget,
    maxWorkers: resolved.maxWorkers,
    events,
    get pending() {
      return scheduler.queued + scheduler.waiting;
    },
    expire: (reason, keep) => site.expire(reason, false, keep),
    expireAll,
    fail: (error) => {
      for (const job of [...site.unstarted()]) {
        scheduler.fail(job, error);
      }
    },
    failJob: (job, error) => scheduler.fail(job, error),
    poke: () => scheduler.poke(),
  });
}
