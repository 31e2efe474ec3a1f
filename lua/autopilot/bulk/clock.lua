--- Time for the bulk runner: a monotonic clock with sub-second resolution, and a sleep.
--
-- Lua alone has only whole wall-clock seconds (`os.time`) and CPU time (`os.clock`), and no sleep.
-- The clock is, in order of preference: the C core's monotonic clock (`core.clock`), the emulator host's
-- (`autopilot.emulator.host.clock`, only when that module is already loaded, as in specs, benchmarks and
-- the demo), else `os.time()`. With `os.time` every wait that must never end early (a batch item's
-- Retry-After, a verify deadline) gets one more second (`margin`), so the fallback is late, never early.
-- The sleep is `core.sleep` when the core has one, else `sleep(1)` through `os.execute` (a fork: used only
-- when nothing is in flight and something is due later, which is rare).
-- @module autopilot.bulk.clock
local M = {}

local ok, core = pcall(require, "autopilot.core")
if not ok or type(core) ~= "table" then core = {} end

local function pick_clock()
  if core.clock then return core.clock end
  local host = package.loaded["autopilot.emulator.host"]
  if type(host) == "table" and host.clock then return host.clock end
  return nil
end

--- Choose the clock again (the emulator host may have been loaded since): called at the start of a run.
function M.refresh()
  local precise = pick_clock()
  --- Monotonic seconds (a double), from an arbitrary origin.
  M.now = precise or os.time
  --- Whether `now` has sub-second resolution.
  M.precise = precise ~= nil
  --- The margin added to a wait that must not end early: one tick of the clock in use.
  M.margin = precise and 0 or 1
end
M.refresh()

--- Wall-clock time as an ISO 8601 UTC string.
-- @treturn string e.g. `"2026-11-29T19:31:02Z"`
function M.iso()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

--- Sleep for `seconds` (nothing else runs meanwhile: call it only with nothing in flight).
-- @tparam number seconds
function M.sleep(seconds)
  if seconds ~= seconds or seconds <= 0 then return end
  if core.sleep then return core.sleep(seconds) end
  os.execute(string.format("sleep %.3f", seconds))
end

return M
