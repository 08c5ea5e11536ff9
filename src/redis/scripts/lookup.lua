-- lookup: reads task records (see lib/records.lua) for any instance of the fleet, and marks lost the
-- unfinished ones whose owner is no longer alive, so that every later lookup says so too.
--
-- KEYS[1]   instances  ZSET  instance id -> end of its liveness (Redis ms)
-- KEYS[2..] the task records
-- ARGV[1]   resultTtlMs: how long a record marked lost is kept
-- Returns, per record: status ('' when there is none), attempts started, and the serialized result
--   ('' until it has ended); then Redis time in ms.

-- @include lib/common.lua
-- @include lib/records.lua

local now = now_ms()
local resultTtlMs = decode(ARGV[1])
local reply = {}
for k = 2, #KEYS do
  local key = KEYS[k]
  local record = redis.call('HMGET', key, 's', 'o', 'a', 'r')
  local status = record[1] or ''
  if UNFINISHED[status] and not instance_alive(KEYS[1], record[2], now) then
    status = 'lost'
    redis.call('HSET', key, 's', status)
    redis.call('PEXPIRE', key, math.ceil(resultTtlMs))
  end
  table.insert(reply, status)
  table.insert(reply, record[3] or '0')
  table.insert(reply, record[4] or '')
end
table.insert(reply, encode(now))
return reply
