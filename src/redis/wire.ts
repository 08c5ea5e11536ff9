import { checkNumber, invalidType } from '../validate.js';
import { RedisReplyError } from './errors.js';
import type { BucketField } from './keys.js';

// What the store sends to its scripts and reads back, and the checks of its inputs.

/** One bucket as sent to Redis. */
export interface FleetBucket {
  /** Its fields' prefix in the state hash. */
  readonly id: string;
  readonly key: string | undefined;
  readonly field: BucketField;
  /** 'r' takes one per request, 't' takes the cost in tokens. */
  readonly kind: 'r' | 't';
  readonly perMs: number;
  readonly capacity: number;
}

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_BUDGET_TTL_MS = 86_400_000;
export const DEFAULT_RESULT_TTL_MS = 86_400_000;

/** Numbers travel as strings; Infinity as 'inf' (see scripts/lib/common.lua). */
export const encode = (n: number): string => (n === Infinity ? 'inf' : String(n));
export const decode = (s: string): number => (s === 'inf' ? Infinity : Number(s));

export const finiteAtLeast0 = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a finite number ≥ 0', (n) => n >= 0 && n !== Infinity);
export const finitePositive = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a finite number > 0', (n) => n > 0 && n !== Infinity);
export const cap = (name: string, value: unknown): number =>
  value === undefined ? Infinity : checkNumber(name, value, 'a number ≥ 0', (n) => n >= 0);

/** A script's reply as the strings it returns (ioredis and node-redis, RESP2 or RESP3, strings or Buffers). */
export function strings(script: string, reply: unknown, length: number): string[] {
  if (!Array.isArray(reply) || reply.length < length) {
    throw new RedisReplyError(script, `unexpected reply ${JSON.stringify(reply)}`, reply);
  }
  return reply.map(String);
}

export const flags = (text: string): boolean[] => Array.from(text, (flag) => flag === '1');

/** A random id for this process's leases; crypto where the runtime has it. */
export function instanceId(): string {
  const random = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto?.randomUUID;
  return random === undefined ? Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2) : random.call(globalThis.crypto);
}

export function checkList<T>(name: string, value: readonly T[]): readonly T[] {
  if (!Array.isArray(value)) {
    invalidType(name, 'an array', value);
  }
  return value;
}

/** A task key: any string, '' for none. */
export function checkKey(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    invalidType(name, "a string ('' for no key)", value);
  }
  return value;
}
