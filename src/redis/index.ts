export { redisCoordinator, RedisCoordinator } from './coordinator.js';
export type { RedisCoordinatorOptions } from './coordinator.js';
export type { Unavailable } from './fleet.js';
export type { IoRedisLike, NodeRedisLike, RedisClientLike } from './client.js';
export { RedisReplyError, RedisUnavailableError } from './errors.js';
