-- pause: stops admissions fleet-wide until the later of the pause in place and `ms` from now, so a
-- shorter Retry-After never cuts a longer one short. The key expires when the pause ends. With ms = 0
-- it only reads the pause.
--
-- KEYS[1]  pause  STRING  end of the fleet pause (Redis ms)
-- ARGV[1]  ms, a finite number >= 0
-- Returns { pause left in ms, Redis time in ms }.

-- @include lib/common.lua

local pauseKey = KEYS[1]
local now = now_ms()
local ms = decode(ARGV[1])
local ends = tonumber(redis.call('GET', pauseKey)) or 0

if ms > 0 and now + ms > ends then
  redis.call('SET', pauseKey, now + ms, 'PX', math.ceil(ms))
  -- Exactly ms: (now + ms) - now may differ from ms in the last bit.
  return { encode(ms), encode(now) }
end
return { encode(math.max(0, ends - now)), encode(now) }
