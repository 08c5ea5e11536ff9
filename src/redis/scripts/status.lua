-- status: a read-only look at one fleet's shared state, for events, tests and debugging. It writes
-- nothing (leases that ran out are counted out, not removed), so it may run on a replica.
--
-- KEYS[1]      leases  ZSET
-- KEYS[2]      pause   STRING
-- KEYS[3]      budget  HASH
-- KEYS[3 + b]  bucket b HASH
-- ARGV     the bucket count, then for each bucket: perMs, capacity
-- Returns { Redis time in ms, leases held, pause left in ms, budget tokens, requests, spend used,
--   then each bucket's level now }.

-- @include lib/common.lua
-- @include lib/bucket.lua

local now = now_ms()
local used = redis.call('HMGET', KEYS[3], 'tokens', 'requests', 'spend')
local reply = {
  encode(now),
  tostring(redis.call('ZCOUNT', KEYS[1], '(' .. encode(now), '+inf')),
  encode(math.max(0, (tonumber(redis.call('GET', KEYS[2])) or 0) - now)),
  encode(tonumber(used[1]) or 0),
  encode(tonumber(used[2]) or 0),
  encode(tonumber(used[3]) or 0),
}
for b = 1, decode(ARGV[1]) do
  local bucket = bucket_load(KEYS[3 + b], decode(ARGV[2 * b]), decode(ARGV[2 * b + 1]), now)
  table.insert(reply, encode(bucket.level))
end
return reply
