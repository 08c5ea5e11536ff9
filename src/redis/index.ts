export { RedisLink } from './client.js';
export type { IoRedisLike, NodeRedisLike, RedisClientLike, RedisLinkOptions } from './client.js';
export { RedisReplyError, RedisUnavailableError } from './errors.js';
export { FleetKeys } from './keys.js';
export type { BucketField } from './keys.js';
export { FleetStore } from './store.js';
export type { Admission, BudgetReached, Candidate, FleetBudget, FleetLimits, FleetStatus, Release, Renewal } from './types.js';
