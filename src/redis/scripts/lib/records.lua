-- Task records: one HASH per task submitted anywhere in the fleet, so any instance can look it up.
--   s  status: pending, running, or how it ended (done, failed, timeout, cancelled, lost)
--   o  the instance that owns it (accepted it, and runs it)
--   a  attempts started
--   r  the result, serialized by its owner, once it has ended
-- An owner is alive while its entry in the instances ZSET (instance id -> Redis time its liveness ends)
-- is in the future; every call of the owner pushes it on. A pending or running record whose owner is
-- not alive is lost: the first lookup that sees it says so, for good. A record ends leaseMs +
-- resultTtlMs after its last write while unfinished, and resultTtlMs after it ended: none outlives its
-- use, and nothing is kept per instance that has stopped.

-- Whether `instance` is alive at `now`.
local function instance_alive(key, instance, now)
  if not instance then
    return false
  end
  local ends = tonumber(redis.call('ZSCORE', key, instance))
  return ends ~= nil and ends > now
end

-- Keeps `instance` alive until `ends`, drops the instances that are not, and gives the ZSET its TTL.
local function instance_touch(key, instance, ends, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('ZADD', key, ends, instance)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.max(1, math.ceil(tonumber(last[2]) - now)) + MARGIN_MS)
end

local UNFINISHED = { pending = true, running = true }

-- Makes `key` a new pending record of `instance`.
local function record_new(key, instance, ttl)
  redis.call('DEL', key)
  redis.call('HSET', key, 's', 'pending', 'o', instance, 'a', 0)
  redis.call('PEXPIRE', key, math.ceil(ttl))
end
