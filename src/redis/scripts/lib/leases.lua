-- Leases: one ZSET member per running attempt, scored with the Redis time its lease ends. A lease that
-- is not renewed runs out and is removed by the next call that reclaims, wherever it comes from: no
-- instance has to say goodbye, and nothing is kept per instance.

-- Removes the leases that have run out.
local function leases_reclaim(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end

-- Which of `leases` are held: a table lease -> true, in one ZMSCORE (Redis 6.2) per slice.
local function leases_held(key, leases)
  local held = {}
  local scores = call_sliced('ZMSCORE', key, leases)
  for i, lease in ipairs(leases) do
    if scores[i] then
      held[lease] = tonumber(scores[i])
    end
  end
  return held
end

-- The ZSET's own TTL: the end of its latest lease plus the margin, so the key outlives every lease in
-- it, and no longer.
local function leases_expire(key, now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', key, math.max(1, math.ceil(tonumber(last[2]) - now)) + MARGIN_MS)
  end
end

-- Waiters: the instances refused a fleet slot lately, each with when it began to wait and when it last
-- asked ("since:last" in a HASH). While some wait, a slot that frees goes to them in turn: an instance
-- takes one only if there are more free slots than instances waiting ahead of it, and one admitted
-- while it still has work refused goes to the back. A waiter that has not asked for WAIT_STALE_MS has
-- stopped waiting (it left, or its work ended) and is dropped.
local WAIT_STALE_MS = 3000

-- The live waiters: instance -> since.
local function waiters_read(key, now)
  local flat = redis.call('HGETALL', key)
  local waiting, stale = {}, {}
  for i = 1, #flat, 2 do
    local since, last = string.match(flat[i + 1], '^([^:]+):(.+)$')
    if tonumber(last) < now - WAIT_STALE_MS then
      table.insert(stale, flat[i])
    else
      waiting[flat[i]] = tonumber(since)
    end
  end
  if #stale > 0 then
    redis.call('HDEL', key, unpack(stale))
  end
  return waiting
end

-- How many live waiters other than `instance` are ahead of it: all of them when it does not wait.
local function waiters_ahead(waiting, instance)
  local mine, ahead = waiting[instance], 0
  for other, since in pairs(waiting) do
    if other ~= instance and (mine == nil or since < mine) then
      ahead = ahead + 1
    end
  end
  return ahead
end
