import { setTimer, type Timer } from '../clock.js';
import type { FleetRecords, UnfinishedTask } from '../admission/coordinator.js';
import type { Job } from '../core/job.js';
import { type DispatchResult, failure, messageOf, success } from '../result.js';
import { RedisUnavailableError } from './errors.js';
import type { FleetStore } from './store.js';
import type { RecordOp, TaskRecord } from './types.js';

/** How a result's value travels to other instances. */
export interface Codec {
  readonly serialize: (value: unknown) => string;
  readonly deserialize: (text: string) => unknown;
}

/** Where record changes go: with the fleet admission's next call, in the same round trip. */
export interface RecordSender {
  /** Queues a change; `job` is the task of a new record, to fail if another instance owns its id. */
  send(op: RecordOp, job?: Job): void;
  /** Resolves once every change queued so far is written; rejects when Redis cannot be reached. */
  flush(): Promise<void>;
}

/** A `waitFor` of a task another instance runs is polled this often at first, then up to `POLL_MAX_MS`. */
const POLL_MS = 20;
const POLL_MAX_MS = 100;

/** A result as a record holds it: the value serialized apart, a failure's cause as plain data. */
interface Shared {
  readonly taskId: string;
  readonly success: boolean;
  readonly status: DispatchResult['status'];
  readonly error: string | null;
  readonly durationMs: number;
  readonly attempts: number;
  readonly attemptErrors?: string[];
  readonly cause?: { readonly name: string; readonly message: string; readonly status?: number };
  /** The value, serialized by the coordinator's `serialize`. */
  readonly value?: string;
  /** Why the value could not be stored. */
  readonly unstored?: string;
}

/**
 * The fleet's records of submitted tasks, kept in Redis: written with the fleet admission's calls (a
 * record costs no round trip of its own), read by any instance, and polled by a `waitFor` of a task
 * running elsewhere: one call a poll for all the tasks this instance waits for, whatever their number.
 */
export class TaskRecords implements FleetRecords {
  /** Tasks waited for that run elsewhere, with their waiters. */
  readonly #watched = new Map<string, ((result: DispatchResult | undefined) => void)[]>();
  #pollTimer: Timer = undefined;
  #pollMs = POLL_MS;

  constructor(
    readonly store: FleetStore,
    readonly sender: RecordSender,
    readonly codec: Codec,
  ) {}

  accepted(job: Job): void {
    this.sender.send({ op: 'n', id: job.id }, job);
  }

  /** A retry waits: the record says pending again. */
  waiting(job: Job): void {
    this.sender.send({ op: 'w', id: job.id });
  }

  finished(job: Job, result: DispatchResult): void {
    this.sender.send({ op: 'e', id: job.id, status: result.status, result: this.#encode(result) });
  }

  flush(): Promise<void> {
    return this.sender.flush();
  }

  async lookup(id: string): Promise<DispatchResult | UnfinishedTask | undefined> {
    const [record] = await this.store.lookup([id]);
    return record === undefined ? undefined : this.#decode(id, record);
  }

  async waitFor(id: string): Promise<DispatchResult | undefined> {
    let found: DispatchResult | UnfinishedTask | undefined;
    try {
      found = await this.lookup(id);
    } catch (error) {
      // Redis out of reach: the wait starts anyway, and learns where the task is once Redis is back.
      if (!(error instanceof RedisUnavailableError)) {
        throw error;
      }
      return this.#watch(id);
    }
    if (found === undefined || 'success' in found) {
      return found;
    }
    return this.#watch(id);
  }

  #watch(id: string): Promise<DispatchResult | undefined> {
    return new Promise((resolve) => {
      const waiters = this.#watched.get(id);
      if (waiters === undefined) {
        this.#watched.set(id, [resolve]);
      } else {
        waiters.push(resolve);
      }
      this.#pollMs = POLL_MS;
      this.#arm();
    });
  }

  #arm(): void {
    if (this.#pollTimer === undefined && this.#watched.size > 0) {
      this.#pollTimer = setTimer(this.#pollMs, this.#poll, undefined);
    }
  }

  readonly #poll = (): void => {
    const ids = [...this.#watched.keys()];
    this.store.lookup(ids).then(
      (records) => {
        this.#pollTimer = undefined;
        ids.forEach((id, i) => {
          const record = records[i];
          const found = record === undefined ? undefined : this.#decode(id, record);
          if (found === undefined || 'success' in found) {
            const waiters = this.#watched.get(id) ?? [];
            this.#watched.delete(id);
            for (const resolve of waiters) {
              resolve(found);
            }
          }
        });
        this.#pollMs = Math.min(POLL_MAX_MS, this.#pollMs * 2);
        this.#arm();
      },
      () => {
        // Redis out of reach: the waiters wait for it, polled less often meanwhile.
        this.#pollTimer = undefined;
        this.#pollMs = POLL_MAX_MS * 10;
        this.#arm();
      },
    );
  };

  /** A result as a record keeps it. A value that cannot be serialized is said to be so, and why. */
  #encode(result: DispatchResult): string {
    const { taskId, success: ok, status, error, durationMs, attempts } = result;
    const shared: { -readonly [K in keyof Shared]: Shared[K] } = { taskId, success: ok, status, error, durationMs, attempts };
    if (result.success) {
      try {
        const value = this.codec.serialize(result.result);
        if (typeof value !== 'string') {
          throw new TypeError(`serialize gave ${typeof value}, not a string`);
        }
        shared.value = value;
      } catch (problem) {
        shared.unstored = `the result could not be stored: ${messageOf(problem, taskId)}`;
      }
    } else {
      shared.attemptErrors = result.attemptErrors;
      shared.cause = plainCause(result.cause);
    }
    return JSON.stringify(shared);
  }

  #decode(id: string, record: TaskRecord): DispatchResult | UnfinishedTask {
    const { status, attempts } = record;
    if (status === 'pending' || status === 'running') {
      return { taskId: id, status };
    }
    if (status === 'lost' || record.result === '') {
      const error = `task ${JSON.stringify(id)} was lost: the instance running it stopped before it ended (its lease ran out)`;
      return failure(id, 'lost', error, { name: 'TaskLostError', message: error }, 0, attempts, []);
    }
    const shared = JSON.parse(record.result) as Shared;
    if (shared.success) {
      let value: unknown;
      let unstored = shared.unstored;
      if (shared.value !== undefined) {
        try {
          value = this.codec.deserialize(shared.value);
        } catch (problem) {
          unstored = `the result could not be read: ${messageOf(problem, id)}`;
        }
      }
      const result = success(id, value, shared.durationMs, shared.attempts);
      return unstored === undefined ? result : { ...result, unstored };
    }
    return failure(id, shared.status as 'failed', shared.error ?? '', shared.cause, shared.durationMs, shared.attempts, shared.attemptErrors ?? []);
  }
}

/** A failure's cause as plain data that survives JSON: its name, message, and HTTP status if it had one. */
function plainCause(cause: unknown): Shared['cause'] {
  if (cause === undefined || cause === null) {
    return undefined;
  }
  const { name, status } = cause as { name?: unknown; status?: unknown };
  return {
    name: typeof name === 'string' ? name : typeof cause,
    message: messageOf(cause, ''),
    ...(typeof status === 'number' && { status }),
  };
}
