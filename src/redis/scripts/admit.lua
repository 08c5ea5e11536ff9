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
-- Before the candidates, it writes the caller's task records (see lib/records.lua) and keeps the
-- caller alive: a new record whose id is unfinished on a live instance other than the caller's is
-- refused, and so is a candidate of this call that stands for it.
--
-- KEYS[1]  leases     ZSET    lease id -> end of the lease (Redis ms)
-- KEYS[2]  pause      STRING  end of the fleet pause (Redis ms), expiring then
-- KEYS[3]  state      HASH    the budget's counts and the buckets' levels (see lib/state.lua)
-- KEYS[4]  instances  ZSET    instance id -> end of its liveness (Redis ms)
-- KEYS[5]  waiters    HASH    instance id -> "since:last" (see lib/leases.lua): fair turns at a full fleet
-- KEYS[6..] the task records the call writes or its candidates stand for
-- ARGV, in order:
--   leaseMs, maxWorkers ('inf' for no cap), the budget caps: tokens, requests, spend ('inf' for none),
--   budgetTtlMs;
--   the caller's instance id, resultTtlMs;
--   the bucket count, then for each bucket: scope (0 shared, k > 0 a key's), kind ('r' requests or
--   't' tokens), id (its fields' prefix in the state hash), perMs, capacity;
--   the release count, then for each: lease, scope, token correction (used - reserved), spend correction;
--   the record count, then for each: op ('n' new and pending, 'w' pending again, 'e' ended), the index
--     of its key in KEYS, and for 'e' its status and its serialized result;
--   the candidate count, then for each: lease, scope, cost (tokens), spend (its estimated price), and
--     the index in KEYS of the record it stands for (0 for none).
-- Returns { admitted flags ('1' admitted, '0' refused, 'x' refused for good: its id is in use
--   elsewhere), released flags ('1'/'0' per release), retry in ms,
--   pause left in ms, what stopped the walk ('' | 'pause' | 'budget' | 'slots' | 'rate'), the budget
--   cap reached ('' | 'tokens' | 'requests' | 'spend'), its used figure, its cap, Redis time in ms,
--   the leases held after the call, the new records' flags ('1' written, '0' refused: the id is in use) }.

-- @include lib/common.lua
-- @include lib/state.lua
-- @include lib/leases.lua
-- @include lib/records.lua

local leasesKey, pauseKey, stateKey, instancesKey, waitersKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
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
-- Leases end on whole milliseconds: a sorted set small enough for Redis's compact encoding re-reads its
-- scores on each insert, and whole numbers are read back several times faster than fractions.
local leaseEnds = math.ceil(now + leaseMs)
local caps = { num(), num(), num() }
local budgetTtlMs = num()
local instance, resultTtlMs = arg(), num()
local BUDGET_FIELDS = { 'tokens', 'requests', 'spend' }

-- The buckets, by scope: scopes[s] = { r = request buckets, t = token buckets }.
local buckets, scopes = {}, {}
for b = 1, num() do
  local scope, kind = num(), arg()
  local bucket = bucket_new(arg(), num(), num())
  buckets[b] = bucket
  if scopes[scope] == nil then
    scopes[scope] = { r = {}, t = {} }
  end
  table.insert(scopes[scope][kind], bucket)
end

-- The scopes whose buckets apply to a task of scope `scope`: the shared one, and its key's if it has
-- one; either may have no bucket at all. Made once per scope.
local applyingOf = {}
local function applying(scope)
  local list = applyingOf[scope]
  if list == nil then
    list = {}
    if scopes[0] ~= nil then
      table.insert(list, scopes[0])
    end
    if scope ~= 0 and scopes[scope] ~= nil then
      table.insert(list, scopes[scope])
    end
    applyingOf[scope] = list
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

local budget = state_read(stateKey, buckets, now)
local changed = false

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
local releases, releaseLeases = {}, {}
for i = 1, num() do
  releases[i] = { lease = arg(), scope = num(), tokens = num(), spend = num() }
  releaseLeases[i] = releases[i].lease
end
local released, removed = {}, {}
local releasedHeld = leases_held(leasesKey, releaseLeases)
for i, release in ipairs(releases) do
  released[i] = '0'
  -- The same lease twice in one call is released once.
  if releasedHeld[release.lease] then
    releasedHeld[release.lease] = nil
    released[i] = '1'
    table.insert(removed, release.lease)
    if release.tokens ~= 0 then
      for _, s in ipairs(applying(release.scope)) do
        for _, bucket in ipairs(s.t) do
          bucket_take(bucket, release.tokens)
        end
      end
    end
    budget[1] = budget[1] + release.tokens
    budget[3] = budget[3] + release.spend
    changed = true
  end
end
call_sliced('ZREM', leasesKey, removed)

-- 2. Leases that ran out.
leases_reclaim(leasesKey, now)

-- 3. The caller is alive for another lease; then its records.
instance_touch(instancesKey, instance, leaseEnds, now)
local recorded, refusedRecord = {}, {}
for r = 1, num() do
  local op, key = arg(), KEYS[num()]
  if op == 'n' then
    local current = redis.call('HMGET', key, 's', 'o')
    if UNFINISHED[current[1]] and current[2] ~= instance and instance_alive(instancesKey, current[2], now) then
      recorded[#recorded + 1] = '0'
      refusedRecord[key] = true
    else
      recorded[#recorded + 1] = '1'
      record_new(key, instance, leaseMs + resultTtlMs)
    end
  elseif op == 'w' then
    if redis.call('HGET', key, 'o') == instance then
      redis.call('HSET', key, 's', 'pending')
      redis.call('PEXPIRE', key, math.ceil(leaseMs + resultTtlMs))
    end
  else
    local status, result = arg(), arg()
    local current = redis.call('HMGET', key, 's', 'o')
    -- Written when this instance owns it, or nobody does any more (it expired while Redis was away); not
    -- over a record another instance found lost: whoever waited was told so, and it stays so.
    if (current[2] == instance and current[1] ~= 'lost') or current[2] == false then
      redis.call('HSET', key, 's', status, 'o', instance, 'r', result)
      redis.call('PEXPIRE', key, math.ceil(resultTtlMs))
    end
  end
end

-- 4. The fleet pause, then the candidates.
local pauseLeft = math.max(0, (tonumber(redis.call('GET', pauseKey)) or 0) - now)
local held = redis.call('ZCARD', leasesKey)
local candidates, candidateLeases = {}, {}
for c = 1, num() do
  candidates[c] = { lease = arg(), scope = num(), cost = num(), spend = num(), record = KEYS[num()] }
  candidateLeases[c] = candidates[c].lease
end
local already = leases_held(leasesKey, candidateLeases)

-- Whether the caller owns the record a candidate stands for; one lost with Redis's data (a restart)
-- is made again.
local function own_record(key)
  if refusedRecord[key] then
    return false
  end
  local owner = redis.call('HGET', key, 'o')
  if owner == false then
    record_new(key, instance, leaseMs + resultTtlMs)
    return true
  end
  return owner == instance
end
local admitted, leased = {}, {}
-- At a fleet cap, the instances waiting ahead of the caller each have a free slot kept for them.
local waiting = {}
if maxWorkers ~= math.huge then
  waiting = waiters_read(waitersKey, now)
end
local ahead = waiters_ahead(waiting, instance)
local stop, stopWait = '', 0
local skipWait = math.huge
local skipped = {}

for c, candidate in ipairs(candidates) do
  local scope, cost = candidate.scope, candidate.cost
  admitted[c] = '0'
  if already[candidate.lease] then
    admitted[c] = '1'
  elseif candidate.record ~= nil and not own_record(candidate.record) then
    -- Its id is in use elsewhere: it never starts.
    admitted[c] = 'x'
  elseif stop == '' and not skipped[scope] then
    if pauseLeft > 0 then
      stop, stopWait = 'pause', pauseLeft
    elseif exhausted() then
      stop, stopWait = 'budget', math.huge
    elseif held + ahead >= maxWorkers then
      -- The soonest end among the leases held before this call and the ones it grants (not written yet).
      local soonest = tonumber(redis.call('ZRANGE', leasesKey, 0, 0, 'WITHSCORES')[2])
      if #leased > 0 and (soonest == nil or leaseEnds < soonest) then
        soonest = leaseEnds
      end
      stop, stopWait = 'slots', math.max(0, soonest - now)
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
          budget[3] = budget[3] + candidate.spend
          changed = true
          table.insert(leased, leaseEnds)
          table.insert(leased, candidate.lease)
          held = held + 1
          admitted[c] = '1'
          local recordKey = candidate.record
          if recordKey ~= nil then
            redis.call('HSET', recordKey, 's', 'running')
            redis.call('HINCRBY', recordKey, 'a', 1)
            redis.call('PEXPIRE', recordKey, math.ceil(leaseMs + resultTtlMs))
          end
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

-- The caller waits for a slot (at the back of the line when it was admitted some now), or no longer.
if stop == 'slots' then
  local since = waiting[instance]
  if since == nil or #leased > 0 then
    since = now
  end
  redis.call('HSET', waitersKey, instance, encode(since) .. ':' .. encode(now))
  redis.call('PEXPIRE', waitersKey, 2 * WAIT_STALE_MS)
elseif waiting[instance] ~= nil then
  redis.call('HDEL', waitersKey, instance)
end

-- Writes, each with its TTL.
if #leased > 0 then
  call_sliced('ZADD', leasesKey, leased)
  leases_expire(leasesKey, now)
end
if changed then
  state_write(stateKey, budget, buckets, budgetTtlMs, now)
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
  table.concat(recorded),
}
