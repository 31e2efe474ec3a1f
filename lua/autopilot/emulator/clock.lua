--- The emulated tenant's clock.
-- Emulated time runs `time_scale` times as fast as the host's monotonic clock:
-- `emulated = base + (now - real_base) * time_scale`. Changing the scale rebases, so emulated
-- time never jumps backwards; `advance` jumps it forwards. Throttle windows, Retry-After
-- values, the sync cool-down and eventual consistency are measured on this clock.
-- @module autopilot.emulator.clock
local M = {}

local Clock = {}
Clock.__index = Clock

--- A new clock.
-- @tparam number now the host's monotonic seconds
-- @tparam[opt=1] number scale emulated seconds per real second (> 0)
-- @treturn table the clock
function M.new(now, scale)
  return setmetatable({ base = 0, real_base = now, scale = scale or 1 }, Clock)
end

--- Emulated seconds since the tenant started.
-- @tparam number now the host's monotonic seconds
-- @treturn number
function Clock:now(now)
  return self.base + (now - self.real_base) * self.scale
end

--- Changes the speed from `now` on.
-- @tparam number now the host's monotonic seconds
-- @tparam number scale emulated seconds per real second (> 0)
function Clock:set_scale(now, scale)
  self.base = self:now(now)
  self.real_base = now
  self.scale = scale
end

--- Jumps emulated time forwards.
-- @tparam number seconds emulated seconds (>= 0)
function Clock:advance(seconds)
  self.base = self.base + seconds
end

--- Real seconds that `emulated` seconds take at the current speed.
-- @tparam number emulated seconds
-- @treturn number
function Clock:to_real(emulated)
  return emulated / self.scale
end

return M
