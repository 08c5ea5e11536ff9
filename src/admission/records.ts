import type { Job } from '../core/job.js';
import type { DispatchResult } from '../result.js';

/** A task's record as `lookup` reports it while it is unfinished. */
export interface UnfinishedTask {
  readonly taskId: string;
  /** `'pending'`: accepted, not started, or waiting to retry; `'running'`: an attempt runs on some instance. */
  readonly status: 'pending' | 'running';
}

/**
 * The fleet-wide records of submitted tasks a coordinator may keep: the tasks of `submit` and
 * `dispatchNowait` are recorded, so any dispatcher of the fleet can look them up.
 */
export interface FleetRecords {
  /** A task was accepted here by `submit` or `dispatchNowait`. */
  accepted(job: Job): void;
  /** Its one result. */
  finished(job: Job, result: DispatchResult): void;
  /** Resolves once every record change made so far is in the fleet's store; rejects when it cannot be reached. */
  flush(): Promise<void>;
  /** The task's record: undefined when no dispatcher of the fleet recorded it (or its record expired). */
  lookup(id: string): Promise<DispatchResult | UnfinishedTask | undefined>;
  /** Resolves with the task's result when it ends, wherever it runs; undefined when no dispatcher recorded it. */
  waitFor(id: string): Promise<DispatchResult | undefined>;
}
