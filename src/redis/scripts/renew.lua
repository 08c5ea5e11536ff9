-- renew: extends one instance's running leases, in one call per instance per interval. A lease that
-- already ran out is not revived, even if no call has reclaimed it yet: its slot may be counted as free
-- by the next admission, and its attempt is to be treated as lost. A lease is never shortened (an
-- instance with a longer leaseMs may have set it).
--
-- KEYS[1]  leases  ZSET  lease id -> end of the lease (Redis ms)
-- ARGV     leaseMs, then the lease ids
-- Returns { held flags ('1' renewed or still held, '0' gone), Redis time in ms }.

-- @include lib/common.lua
-- @include lib/leases.lua

local leasesKey = KEYS[1]
local now = now_ms()
local ends = now + decode(ARGV[1])

leases_reclaim(leasesKey, now)
local held = {}
local renewed = false
for i = 2, #ARGV do
  local score = tonumber(redis.call('ZSCORE', leasesKey, ARGV[i]))
  held[i - 1] = '0'
  if score ~= nil then
    held[i - 1] = '1'
    if score < ends then
      redis.call('ZADD', leasesKey, 'XX', ends, ARGV[i])
      renewed = true
    end
  end
end
if renewed then
  leases_expire(leasesKey, now)
end
return { table.concat(held), encode(now) }
