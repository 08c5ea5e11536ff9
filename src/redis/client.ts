import { setTimer } from '../clock.js';
import { checkNumber, invalidType } from '../validate.js';
import { RedisReplyError, RedisUnavailableError } from './errors.js';
import type { LuaScript } from './scripts.generated.js';

/**
 * The part of an ioredis client (v5 or v6, `Redis` or `Cluster`) that runs scripts. Described here
 * rather than imported, so that `duta/redis` loads, and type-checks, without ioredis installed.
 */
export interface IoRedisLike {
  evalsha(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** The part of a node-redis client (v5 or v6, a client or a cluster) that runs scripts. */
export interface NodeRedisLike {
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A Redis client duta can use: told apart at run time by its method names. */
export type RedisClientLike = IoRedisLike | NodeRedisLike;

export interface RedisLinkOptions {
  /**
   * The time limit of one call, in milliseconds: past it the call rejects with a
   * `RedisUnavailableError` and its late answer, if one comes, is ignored. @default 2000
   */
  readonly timeoutMs?: number;
}

/** Replies that mean "not now" rather than "never": the server is loading, busy, read-only, or full. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM|NOREPLICAS|MISCONF)\b/;

/**
 * An error Redis sent back, as opposed to one about the connection. ioredis names them `ReplyError`,
 * node-redis makes them `ErrorReply` (or a subclass) without a name; their messages start with the
 * error code in capitals, which also covers a bundle that renamed the classes.
 */
function replyText(error: unknown): string | undefined {
  if (!(error instanceof Error)) {
    return undefined;
  }
  const kind = error.name === 'Error' ? error.constructor.name : error.name;
  return kind === 'ReplyError' || kind === 'ErrorReply' || kind === 'SimpleError' || kind === 'BlobError' || /^[A-Z][A-Z_]+ /.test(error.message)
    ? error.message
    : undefined;
}

/**
 * One Redis client as duta uses it: scripts run by EVALSHA, and by EVAL when Redis has lost them
 * (after a restart, a failover or SCRIPT FLUSH), each call within its own time limit, every failure
 * turned into one of two typed errors, and round trips counted.
 */
export class RedisLink {
  readonly timeoutMs: number;
  readonly #send: (script: LuaScript, byHash: boolean, keys: string[], args: string[]) => Promise<unknown>;
  #roundTrips = 0;
  /** Scripts this link has run: Redis had them cached then (until a restart or a flush). */
  readonly #known = new Set<string>();
  /** The first call of a script not known yet, which the calls made meanwhile wait for. */
  readonly #first = new Map<string, Promise<unknown>>();

  constructor(client: RedisClientLike, options: RedisLinkOptions = {}) {
    const duck = client as Partial<IoRedisLike & NodeRedisLike & { isOpen: boolean }> | null;
    if (typeof duck?.evalSha === 'function' && typeof duck.eval === 'function') {
      if (duck.isOpen === false) {
        invalidType('client', 'a connected node-redis client (call `await client.connect()` first)', client);
      }
      const nodeRedis = client as NodeRedisLike;
      this.#send = (script, byHash, keys, args) =>
        byHash ? nodeRedis.evalSha(script.sha1, { keys, arguments: args }) : nodeRedis.eval(script.source, { keys, arguments: args });
    } else if (typeof duck?.evalsha === 'function' && typeof duck.eval === 'function') {
      const ioRedis = client as IoRedisLike;
      this.#send = (script, byHash, keys, args) =>
        byHash ? ioRedis.evalsha(script.sha1, keys.length, ...keys, ...args) : ioRedis.eval(script.source, keys.length, ...keys, ...args);
    } else {
      invalidType('client', 'an ioredis client (Redis or Cluster) or a connected node-redis client', client);
    }
    this.timeoutMs = checkNumber('timeoutMs', options.timeoutMs ?? 2_000, 'a finite number > 0', (n) => n > 0 && n !== Infinity);
  }

  /** Commands sent to Redis so far: a script call is one, or two when Redis had lost the script. */
  get roundTrips(): number {
    return this.#roundTrips;
  }

  /**
   * Runs `script` with `keys` and `args` and resolves with its reply; rejects with a
   * `RedisUnavailableError` (no answer within `timeoutMs`, no connection, or a server that cannot
   * serve now) or a `RedisReplyError`. It never rejects twice, and a late answer is dropped.
   */
  run(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let over = false;
      const timer = setTimer(
        this.timeoutMs,
        () => {
          over = true;
          reject(new RedisUnavailableError(script.name, `got no answer within ${this.timeoutMs} ms`, true));
        },
        undefined,
      );
      const settle = (): boolean => {
        clearTimeout(timer);
        const late = over;
        over = true;
        return !late;
      };
      // A client that throws instead of rejecting fails the same way.
      const send = async (byHash: boolean): Promise<unknown> => {
        this.#roundTrips++;
        return this.#send(script, byHash, keys, args);
      };
      // Until a script is known to be cached, one call finds out (loading it if need be) and the calls
      // made meanwhile wait for it: a burst of first calls costs one NOSCRIPT, not one each.
      const pioneer = this.#first.get(script.sha1);
      const start = this.#known.has(script.sha1) || pioneer === undefined ? Promise.resolve() : pioneer.then(noop, noop);
      const call = start
        .then(() => send(true))
        .catch((error: unknown) => {
          // The script cache is empty after a restart: EVAL runs the source and caches it again. Not
          // once the call is over, though: the caller has been told it failed, so nothing new is sent.
          if (over || replyText(error)?.startsWith('NOSCRIPT') !== true) {
            throw error;
          }
          return send(false);
        });
      if (!this.#known.has(script.sha1) && pioneer === undefined) {
        const first = call.then(() => void this.#known.add(script.sha1));
        this.#first.set(script.sha1, first);
        first.then(noop, noop).finally(() => this.#first.delete(script.sha1));
      }
      call.then(
        (reply) => {
          if (settle()) {
            resolve(reply);
          }
        },
        (error: unknown) => {
          if (settle()) {
            reject(failure(script.name, error));
          }
        },
      );
    });
  }
}

const noop = (): void => {};

/** The typed error for what a client threw. */
function failure(script: string, error: unknown): Error {
  const reply = replyText(error);
  if (reply !== undefined && !UNAVAILABLE_REPLY.test(reply)) {
    return new RedisReplyError(script, reply, error);
  }
  // A refused connection on a dual-stack host is an AggregateError with no message, only a code.
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error && error.message !== '' ? error.message : typeof code === 'string' ? code : String(error);
  return new RedisUnavailableError(script, `failed: ${message}`, false, error);
}
