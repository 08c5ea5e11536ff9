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
