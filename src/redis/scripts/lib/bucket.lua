-- Token buckets, kept as src/policies/bucket.ts keeps them: refilled continuously at `perMs` up to
-- `capacity`, starting full. A cost above the capacity waits for a full bucket, then leaves it in debt;
-- a correction upward may leave debt too; a refund never lifts the level above the capacity.
-- Each bucket is a HASH { l = level, t = the Redis time of that level in ms }. A missing key is a full
-- bucket, so a bucket's key needs to live only until it would have refilled.
-- Rates and capacities come from the caller at every call: each instance sends its own limits.

local function bucket_load(key, perMs, capacity, now)
  local state = redis.call('HMGET', key, 'l', 't')
  local level = tonumber(state[1])
  if level == nil then
    level = capacity
  else
    local elapsed = now - (tonumber(state[2]) or now)
    -- A clock that went back (a replica promoted with a slower clock) refills nothing rather than drains.
    if elapsed < 0 then
      elapsed = 0
    end
    -- Clamped even without a refill: an instance with a smaller capacity reads the bucket at its own.
    level = math.min(capacity, level + elapsed * perMs)
  end
  return { key = key, perMs = perMs, capacity = capacity, level = level, dirty = false }
end

-- Milliseconds until `cost` can be taken: 0 when it can be now.
local function bucket_wait(bucket, cost)
  local needed = math.min(cost, bucket.capacity) - bucket.level
  if needed <= 0 then
    return 0
  end
  return needed / bucket.perMs
end

-- Takes `cost`; a negative cost gives back, never above the capacity.
local function bucket_take(bucket, cost)
  bucket.level = math.min(bucket.capacity, bucket.level - cost)
  bucket.dirty = true
end

-- Writes a changed bucket, with a TTL of its time to refill to full: after that a missing key says the
-- same. A full bucket is deleted outright.
local function bucket_save(bucket, now)
  if not bucket.dirty then
    return
  end
  if bucket.level >= bucket.capacity then
    redis.call('DEL', bucket.key)
    return
  end
  redis.call('HSET', bucket.key, 'l', bucket.level, 't', now)
  redis.call('PEXPIRE', bucket.key, math.ceil((bucket.capacity - bucket.level) / bucket.perMs) + MARGIN_MS)
end
