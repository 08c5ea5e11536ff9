-- renew: extends one instance's running leases, in one call per instance per interval. A lease that
-- already ran out is not revived, even if no call has reclaimed it yet: its slot may be counted as free
-- by the next admission, and its attempt is to be treated as lost. A lease is never shortened (an
-- instance with a longer leaseMs may have set it).
--
-- It also keeps the instance alive, so that its unfinished task records are not taken for lost.
--
-- KEYS[1]  leases     ZSET  lease id -> end of the lease (Redis ms)
-- KEYS[2]  instances  ZSET  instance id -> end of its liveness (Redis ms)
-- ARGV     leaseMs, the instance id, then the lease ids
-- Returns { held flags ('1' renewed or still held, '0' gone), Redis time in ms }.

-- @include lib/common.lua
-- @include lib/leases.lua
-- @include lib/records.lua

local leasesKey = KEYS[1]
local now = now_ms()
-- On whole milliseconds, as admit grants them.
local ends = math.ceil(now + decode(ARGV[1]))

instance_touch(KEYS[2], ARGV[2], ends, now)
leases_reclaim(leasesKey, now)
local leases = {}
for i = 3, #ARGV do
  leases[i - 2] = ARGV[i]
end
local scores = leases_held(leasesKey, leases)
local flags, renewed = {}, {}
for i, lease in ipairs(leases) do
  flags[i] = '0'
  if scores[lease] then
    flags[i] = '1'
    if scores[lease] < ends then
      table.insert(renewed, ends)
      table.insert(renewed, lease)
    end
  end
end
if #renewed > 0 then
  call_sliced('ZADD', leasesKey, renewed)
  leases_expire(leasesKey, now)
end
return { table.concat(flags), encode(now) }
