/**
 * Every Redis key a fleet writes, named in this one place: five per fleet, however many instances,
 * keys or buckets, and one per submitted task, expiring (see `scripts/*.lua` for what each holds). Each starts with the hash tag
 * `{duta:<name>}`: Redis Cluster places a key by the text between its first `{` and the next `}`, and
 * since every key of a fleet begins with the same tag, they all land in one slot, which a script's keys
 * must, whatever characters the name holds. Different fleets (names) spread over the cluster.
 */

/** The bucket of each rate-limit field, by a short suffix. */
const FIELDS = { requestsPerMinute: 'rpm', requestsPerSecond: 'rps', tokensPerMinute: 'tpm' } as const;

export type BucketField = keyof typeof FIELDS;

export class FleetKeys {
  /** `{duta:<name>}`, the prefix and hash tag of every key below. */
  readonly tag: string;
  /** ZSET of running attempts' leases: lease id → the Redis time (ms) its lease ends. */
  readonly leases: string;
  /** STRING: the Redis time (ms) the fleet pause ends; expires then. */
  readonly pause: string;
  /**
   * HASH of the fleet's counters: `tokens`, `requests` and `spend` counted against the budget, and
   * `<bucket id>:l` and `:t`, each token bucket's level and the Redis time of that level.
   */
  readonly state: string;
  /** ZSET of live instances: instance id → the Redis time (ms) its liveness ends, pushed on by each of its calls. */
  readonly instances: string;
  /** HASH of the instances waiting for a fleet slot: instance id → "since:last" (Redis ms), for fair turns. */
  readonly waiters: string;

  constructor(name: string) {
    this.tag = `{duta:${name}}`;
    this.leases = `${this.tag}:leases`;
    this.pause = `${this.tag}:pause`;
    this.state = `${this.tag}:state`;
    this.instances = `${this.tag}:instances`;
    this.waiters = `${this.tag}:waiters`;
  }

  /** HASH of one submitted task's record (see `scripts/lib/records.lua`), expiring when it is no longer of use. */
  record(taskId: string): string {
    return `${this.tag}:t:${taskId}`;
  }

  /**
   * The id of one token bucket, the prefix of its fields in `state`: a shared one (`key` undefined)
   * or a task key's own. The field's suffix comes last and holds no `:`, so no two (key, field) pairs
   * share an id.
   */
  static bucket(key: string | undefined, field: BucketField): string {
    return key === undefined ? FIELDS[field] : `key:${key}:${FIELDS[field]}`;
  }
}
