/**
 * The two ways a Redis call fails, told apart because a coordinator answers them differently: Redis
 * out of reach (wait, run on local limits, or fail the queue) versus Redis refusing the call (a bug or
 * a misconfigured server, which waiting does not mend).
 */

/**
 * Redis could not be reached in time: no answer within the call's time limit (a frozen or overloaded
 * server, a lost network), a connection that is closed or refused, or a server that says it cannot
 * serve now (LOADING, BUSY, READONLY after a failover, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, OOM).
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  /** The script the call ran. */
  readonly script: string;
  /** True when Redis did not answer within the time limit. */
  readonly timedOut: boolean;

  constructor(script: string, problem: string, timedOut: boolean, cause?: unknown) {
    super(`Redis is unavailable: \`${script}\` ${problem}`, cause === undefined ? undefined : { cause });
    this.script = script;
    this.timedOut = timedOut;
  }
}

/** Redis answered with an error that retrying will not fix (a script error, WRONGTYPE on a foreign key). */
export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError';
  readonly script: string;

  constructor(script: string, reply: string, cause: unknown) {
    super(`Redis refused \`${script}\`: ${reply}`, { cause });
    this.script = script;
  }
}
