--- What the embedding specs read from the emulator: how many answers it held at once.
local M = {}

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
