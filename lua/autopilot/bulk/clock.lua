--- Time for the bulk runner: the C core's monotonic clock and sleep (Lua alone has only whole seconds).
-- @module autopilot.bulk.clock
local core = require "autopilot.core"

local M = {}

--- Monotonic seconds (a double), from an arbitrary origin.
-- @function now
M.now = core.clock

--- Wall-clock time as an ISO 8601 UTC string.
-- @treturn string e.g. `"2026-11-29T19:31:02Z"`
function M.iso()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

--- Sleep for `seconds` (nothing else runs meanwhile: call it only with nothing in flight).
-- @tparam number seconds
function M.sleep(seconds)
  if seconds ~= seconds or seconds <= 0 then return end
  core.sleep(seconds)
end

return M
