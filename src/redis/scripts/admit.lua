-- admit: one instance's whole turn at the fleet's limits, in one atomic call. It
--   1. releases the given leases, and for each lease it actually removed corrects the token buckets
--      and the budget by the usage the attempt reported: so a second release of the same attempt, or
--      one whose lease ran out and was reclaimed, changes nothing;
--   2. reclaims the leases that ran out (their instances died or froze);
--   3. walks the candidates in the order given (the instance's fair-turn order) and admits each all or
--      nothing: a fleet slot, one request from every request bucket and its cost from every token
--      bucket that applies (the shared ones and its key's), room in the budget, and no fleet pause.
--      A candidate refused by its key's own buckets is skipped, with every later one of that key;
--      one refused by the shared buckets stops the walk, so that nobody after it takes from them
--      and a big task is not starved by small ones; a pause, a spent budget or a full fleet refuse
--      everyone left.
-- An admitted candidate gets a lease that ends leaseMs from now. A candidate whose lease is already
-- held was admitted by an earlier call whose answer was lost: it is reported admitted, charged nothing.
--
-- KEYS[1]      leases  ZSET   lease id -> end of the lease (Redis ms)
-- KEYS[2]      pause   STRING end of the fleet pause (Redis ms), expiring then
-- KEYS[3]      budget  HASH   tokens, requests, spend used so far
-- KEYS[3 + b]  bucket b HASH  l (level), t (Redis ms of that level)
-- ARGV, in order:
--   leaseMs, maxWorkers ('inf' for no cap), the budget caps: tokens, requests, spend ('inf' for none),
--   budgetTtlMs;
--   the bucket count, then for each bucket: scope (0 shared, k > 0 a key's), kind ('r' requests or
--   't' tokens), perMs, capacity;
--   the release count, then for each: lease, scope, token correction (used - reserved), spend correction;
--   the candidate count, then for each: lease, scope, cost (tokens), spend (its estimated price).
-- Returns { admitted flags ('1'/'0' per candidate), released flags ('1'/'0' per release), retry in ms,
--   pause left in ms, what stopped the walk ('' | 'pause' | 'budget' | 'slots' | 'rate'), the budget
--   cap reached ('' | 'tokens' | 'requests' | 'spend'), its used figure, its cap, Redis time in ms,
--   the leases held after the call }.

-- @include lib/common.lua
-- @include lib/bucket.lua
-- @include lib/leases.lua

local leasesKey, pauseKey, budgetKey = KEYS[1], KEYS[2], KEYS[3]
local now = now_ms()

local argi = 0
local function arg()
  argi = argi + 1
  return ARGV[argi]
end
local function num()
  return decode(arg())
end

local leaseMs, maxWorkers = num(), num()
local caps = { num(), num(), num() }
local budgetTtlMs = num()
local BUDGET_FIELDS = { 'tokens', 'requests', 'spend' }

-- The buckets of each scope, read once and written back once at the end.
local buckets, scopes = {}, {}
for b = 1, num() do
  local scope, kind, perMs, capacity = num(), arg(), num(), num()
  local bucket = bucket_load(KEYS[3 + b], perMs, capacity, now)
  buckets[b] = bucket
  if scopes[scope] == nil then
    scopes[scope] = { r = {}, t = {} }
  end
  table.insert(scopes[scope][kind], bucket)
end

-- The scopes whose buckets apply to a task of scope `scope`: the shared one, and its key's if it has
-- one; either may have no bucket at all.
local function applying(scope)
  local list = {}
  if scopes[0] ~= nil then
    table.insert(list, scopes[0])
  end
  if scope ~= 0 and scopes[scope] ~= nil then
    table.insert(list, scopes[scope])
  end
  return list
end

-- Milliseconds until one request and `cost` tokens can come from every bucket of one scope.
local function scope_wait(s, cost)
  local wait = 0
  if s ~= nil then
    for _, bucket in ipairs(s.r) do
      wait = math.max(wait, bucket_wait(bucket, 1))
    end
    for _, bucket in ipairs(s.t) do
      wait = math.max(wait, bucket_wait(bucket, cost))
    end
  end
  return wait
end

local used = redis.call('HMGET', budgetKey, 'tokens', 'requests', 'spend')
local budget = { tonumber(used[1]) or 0, tonumber(used[2]) or 0, tonumber(used[3]) or 0 }
local budgetDirty = false

-- The first cap reached (used >= cap, as the local budget counts it), or nil.
local function exhausted()
  for i = 1, 3 do
    if budget[i] >= caps[i] then
      return i
    end
  end
  return nil
end

-- 1. Releases.
local released = {}
for i = 1, num() do
  local lease, scope, tokens, spend = arg(), num(), num(), num()
  released[i] = '0'
  if redis.call('ZREM', leasesKey, lease) == 1 then
    released[i] = '1'
    if tokens ~= 0 then
      for _, s in ipairs(applying(scope)) do
        for _, bucket in ipairs(s.t) do
          bucket_take(bucket, tokens)
        end
      end
    end
    if tokens ~= 0 or spend ~= 0 then
      budget[1] = budget[1] + tokens
      budget[3] = budget[3] + spend
      budgetDirty = true
    end
  end
end

-- 2. Leases that ran out.
leases_reclaim(leasesKey, now)

-- 3. The fleet pause, then the candidates.
local pauseLeft = math.max(0, (tonumber(redis.call('GET', pauseKey)) or 0) - now)
local held = redis.call('ZCARD', leasesKey)
local admitted = {}
local stop, stopWait = '', 0
local skipWait = math.huge
local skipped = {}
local leased = false

for c = 1, num() do
  local lease, scope, cost, spend = arg(), num(), num(), num()
  admitted[c] = '0'
  if redis.call('ZSCORE', leasesKey, lease) then
    admitted[c] = '1'
  elseif stop == '' and not skipped[scope] then
    if pauseLeft > 0 then
      stop, stopWait = 'pause', pauseLeft
    elseif exhausted() then
      stop, stopWait = 'budget', math.huge
    elseif held >= maxWorkers then
      local soonest = redis.call('ZRANGE', leasesKey, 0, 0, 'WITHSCORES')
      stop, stopWait = 'slots', math.max(0, tonumber(soonest[2]) - now)
    else
      local own = 0
      if scope ~= 0 then
        own = scope_wait(scopes[scope], cost)
      end
      if own > 0 then
        skipped[scope] = true
        skipWait = math.min(skipWait, own)
      else
        local shared = scope_wait(scopes[0], cost)
        if shared > 0 then
          stop, stopWait = 'rate', shared
        else
          for _, s in ipairs(applying(scope)) do
            for _, bucket in ipairs(s.r) do
              bucket_take(bucket, 1)
            end
            for _, bucket in ipairs(s.t) do
              bucket_take(bucket, cost)
            end
          end
          budget[1] = budget[1] + cost
          budget[2] = budget[2] + 1
          budget[3] = budget[3] + spend
          budgetDirty = true
          redis.call('ZADD', leasesKey, now + leaseMs, lease)
          held = held + 1
          leased = true
          admitted[c] = '1'
        end
      end
    end
  end
end

-- When asking again could succeed: a pause, a full fleet or a spent budget hold everyone; otherwise
-- the soonest of the refused candidates' bucket waits.
local retry = 0
if stop == 'rate' then
  retry = math.min(stopWait, skipWait)
elseif stop ~= '' then
  retry = stopWait
elseif skipWait < math.huge then
  retry = skipWait
end

-- Writes, each with its TTL.
if leased then
  leases_expire(leasesKey, now)
end
for _, bucket in ipairs(buckets) do
  bucket_save(bucket, now)
end
if budgetDirty then
  redis.call('HSET', budgetKey, 'tokens', budget[1], 'requests', budget[2], 'spend', budget[3])
  redis.call('PEXPIRE', budgetKey, budgetTtlMs)
end

local reached = exhausted()
local reachedName, reachedUsed, reachedCap = '', '0', '0'
if reached ~= nil then
  reachedName, reachedUsed, reachedCap = BUDGET_FIELDS[reached], encode(budget[reached]), encode(caps[reached])
end
return {
  table.concat(admitted),
  table.concat(released),
  encode(retry),
  encode(pauseLeft),
  stop,
  reachedName,
  reachedUsed,
  reachedCap,
  encode(now),
  tostring(held),
}
