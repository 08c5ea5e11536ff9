-- A fleet's counters live in one HASH, its state, read with one HMGET and written with one HSET and
-- one PEXPIRE per call, however many buckets apply (each Redis command in a script has a cost of its
-- own, larger than the arithmetic here):
--   tokens, requests, spend   the budget's counts so far
--   <bucket id>:l, :t         each token bucket's level, and the Redis time (ms) of that level
--
-- Token buckets are kept as src/policies/bucket.ts keeps them: refilled continuously at `perMs` up to
-- `capacity`, starting full. A cost above the capacity waits for a full bucket, then leaves it in
-- debt; a correction upward may leave debt too; a refund never lifts the level above the capacity. A
-- bucket whose fields are missing is full. Rates and capacities come from the caller at every call.

local function bucket_new(id, perMs, capacity)
  return { id = id, perMs = perMs, capacity = capacity, level = capacity, dirty = false }
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

-- Reads the budget's counts and the levels of `buckets` at `now`; returns the counts { tokens,
-- requests, spend }.
local function state_read(key, buckets, now)
  local fields = { 'tokens', 'requests', 'spend' }
  for _, bucket in ipairs(buckets) do
    table.insert(fields, bucket.id .. ':l')
    table.insert(fields, bucket.id .. ':t')
  end
  local values = call_sliced('HMGET', key, fields)
  for i, bucket in ipairs(buckets) do
    local level = tonumber(values[2 + 2 * i])
    if level ~= nil then
      local elapsed = now - (tonumber(values[3 + 2 * i]) or now)
      -- A clock that went back (a replica promoted with a slower clock) refills nothing rather than drains.
      if elapsed < 0 then
        elapsed = 0
      end
      -- Clamped even without a refill: an instance with a smaller capacity reads the bucket at its own.
      bucket.level = math.min(bucket.capacity, level + elapsed * bucket.perMs)
    end
  end
  return { tonumber(values[1]) or 0, tonumber(values[2]) or 0, tonumber(values[3]) or 0 }
end

-- Writes the budget's counts and the buckets that changed. The hash is kept `ttlMs` after this write
-- (the budget's time to live), or until the emptiest bucket written would be full again if that is
-- later: after that, missing fields say the same as the ones that expired.
local function state_write(key, budget, buckets, ttlMs, now)
  local values = { 'tokens', budget[1], 'requests', budget[2], 'spend', budget[3] }
  for _, bucket in ipairs(buckets) do
    if bucket.dirty then
      table.insert(values, bucket.id .. ':l')
      table.insert(values, bucket.level)
      table.insert(values, bucket.id .. ':t')
      table.insert(values, now)
      ttlMs = math.max(ttlMs, (bucket.capacity - bucket.level) / bucket.perMs)
    end
  end
  call_sliced('HSET', key, values)
  redis.call('PEXPIRE', key, math.ceil(ttlMs) + MARGIN_MS)
end
