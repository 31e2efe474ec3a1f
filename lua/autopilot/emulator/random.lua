--- Seeded pseudo-random numbers for the emulated tenant (splitmix64).
-- Each stream is its own object, so one part of the emulator (faults, say) draws the same
-- sequence for the same seed whatever the others do. Not for cryptography.
-- @module autopilot.emulator.random
local M = {}

local Rng = {}
Rng.__index = Rng

local GOLDEN = -7046029254386353131 -- 0x9E3779B97F4A7C15 as a signed 64-bit integer
local MIX1 = -4658895280553007687   -- 0xBF58476D1CE4E5B9
local MIX2 = -7723592293110705685   -- 0x94D049BB133111EB

local function mix(z)
  z = (z ~ (z >> 30)) * MIX1
  z = (z ~ (z >> 27)) * MIX2
  return z ~ (z >> 31)
end

--- A new stream.
-- @tparam[opt=0] integer|string seed the seed; a string is hashed, so streams can be named
-- @tparam[opt] string name a stream name mixed into the seed (different names, independent streams)
-- @treturn table the stream, with the methods below
function M.new(seed, name)
  local s = 0
  if type(seed) == "number" then
    s = math.tointeger(seed) or math.floor(seed)
  elseif type(seed) == "string" then
    for i = 1, #seed do s = mix(s + seed:byte(i)) end
  end
  if name then
    for i = 1, #name do s = mix(s ~ (name:byte(i) * GOLDEN)) end
  end
  return setmetatable({ state = s }, Rng)
end

--- The next raw 64-bit integer.
-- @treturn integer any 64-bit value
function Rng:next64()
  self.state = self.state + GOLDEN
  return mix(self.state)
end

--- A float uniform in [0, 1).
-- @treturn number
function Rng:float()
  return (self:next64() >> 11) * 0x1.0p-53
end

--- An integer uniform in [lo, hi].
-- @tparam integer lo
-- @tparam integer hi (>= lo)
-- @treturn integer
function Rng:int(lo, hi)
  return lo + math.floor(self:float() * (hi - lo + 1))
end

--- One element of an array, uniformly.
-- @tparam table list a non-empty array
-- @return the element
function Rng:pick(list)
  return list[self:int(1, #list)]
end

--- A standard normal deviate (Box-Muller).
-- @treturn number
function Rng:normal()
  local u = self:float()
  if u < 1e-300 then u = 1e-300 end
  return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * self:float())
end

--- `n` hex digits, lower case.
-- @tparam integer n
-- @treturn string
function Rng:hex(n)
  local parts, left = {}, n
  while left > 0 do
    local take = left < 16 and left or 16
    parts[#parts + 1] = string.format("%016x", self:next64()):sub(1, take)
    left = left - take
  end
  return table.concat(parts)
end

--- `n` random bytes.
-- @tparam integer n
-- @treturn string
function Rng:bytes(n)
  local out = {}
  for i = 1, n do out[i] = string.char(self:next64() & 0xff) end
  return table.concat(out)
end

--- A random (version 4 shaped) GUID, lower case.
-- @treturn string e.g. "3f2b...-...."
function Rng:guid()
  local a, b = self:next64(), self:next64()
  local h = string.format("%016x%016x", a, b)
  local variant = ("89ab"):sub((b & 3) + 1, (b & 3) + 1)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-" .. variant .. h:sub(18, 20)
    .. "-" .. h:sub(21, 32)
end

--- Shuffles an array in place (Fisher-Yates).
-- @tparam table list
-- @treturn table the same array
function Rng:shuffle(list)
  for i = #list, 2, -1 do
    local j = self:int(1, i)
    list[i], list[j] = list[j], list[i]
  end
  return list
end

return M
