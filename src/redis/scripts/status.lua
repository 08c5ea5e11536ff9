-- status: a read-only look at one fleet's shared state, for events, tests and debugging. It writes
-- nothing (leases that ran out are counted out, not removed), so it may run on a replica.
--
-- KEYS[1]  leases  ZSET
-- KEYS[2]  pause   STRING
-- KEYS[3]  state   HASH
-- ARGV     the bucket count, then for each bucket: id, perMs, capacity
-- Returns { Redis time in ms, leases held, pause left in ms, budget tokens, requests, spend used,
--   then each bucket's level now }.

-- @include lib/common.lua
-- @include lib/state.lua

local now = now_ms()
local buckets = {}
for b = 1, decode(ARGV[1]) do
  buckets[b] = bucket_new(ARGV[3 * b - 1], decode(ARGV[3 * b]), decode(ARGV[3 * b + 1]))
end
local budget = state_read(KEYS[3], buckets, now)
local reply = {
  encode(now),
  tostring(redis.call('ZCOUNT', KEYS[1], '(' .. encode(now), '+inf')),
  encode(math.max(0, (tonumber(redis.call('GET', KEYS[2])) or 0) - now)),
  encode(budget[1]),
  encode(budget[2]),
  encode(budget[3]),
}
for _, bucket in ipairs(buckets) do
  table.insert(reply, encode(bucket.level))
end
return reply
