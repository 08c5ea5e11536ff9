-- Helpers every script shares: the clock, numbers, and commands over long lists.

-- Milliseconds of Redis's own clock (TIME): the only clock the fleet reads, so instances whose clocks
-- disagree still share one timeline. A float: microseconds are kept as the fraction.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- Numbers travel as strings both ways: Redis turns a Lua number into an integer reply (cutting the
-- fraction), and Lua's tonumber of "inf" depends on the C library. 'inf' stands for no limit. 17
-- digits carry a double exactly (tostring keeps 14), so the caller reads what the script computed.
local function decode(s)
  if s == 'inf' then
    return math.huge
  end
  return tonumber(s)
end

local function encode(x)
  if x == math.huge then
    return 'inf'
  end
  return string.format('%.17g', x)
end

-- Every key outlives the state it must keep by this much, so a slow caller never reads a key that
-- expired between two of its steps; after that the key is gone and nothing is left behind.
local MARGIN_MS = 1000

-- Lua passes at most a few thousand values to one call: long lists go in slices of this many.
local SLICE = 1000

-- Runs `command key ...values` over `values` in slices, and returns the replies concatenated.
local function call_sliced(command, key, values)
  local replies = {}
  for first = 1, #values, SLICE do
    local reply = redis.call(command, key, unpack(values, first, math.min(first + SLICE - 1, #values)))
    if type(reply) == 'table' then
      for _, item in ipairs(reply) do
        table.insert(replies, item)
      end
    end
  end
  return replies
end
