--- The embedding specs' emulator, and what they read from it: how many answers it held at once.
local emulator = require "autopilot.emulator"

local M = {}

--- An emulator for the embedding specs: 60 devices, answers held 200 ms unless `extra` says otherwise.
-- @tparam integer seed
-- @tparam[opt] table extra config keys on top (`latency = false` for none)
-- @treturn table the started emulator
function M.start(seed, extra)
  local cfg = { devices = 60, seed = seed, latency = { fixed = 200 } }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  return assert(emulator.start(cfg))
end

--- The most requests to an endpoint the emulator held at once (each from its arrival, `real`, for the
-- `delay` it held the answer), from its request log.
-- @tparam table emu
-- @tparam string endpoint e.g. "unassignUserFromDevice"
-- @treturn integer
function M.peak_in_flight(emu, endpoint)
  local edges = {}
  for _, e in ipairs(emu:state { devices = false }.log) do
    if e.endpoint == endpoint then
      edges[#edges + 1] = { e.real, 1 }
      edges[#edges + 1] = { e.real + e.delay, -1 }
    end
  end
  table.sort(edges, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2] -- an answer that ends as another arrives is not held with it
  end)
  local now, peak = 0, 0
  for _, x in ipairs(edges) do
    now = now + x[2]
    if now > peak then peak = now end
  end
  return peak
end

--- Ids of the emulator's first n devices, and those still holding a user afterwards.
-- @tparam table emu
-- @treturn table devices (current fields)
function M.devices(emu)
  return emu:state { log = false }.devices
end

return M
