--- The emulated tenant from a spec's (or a benchmark's) side: a client of the real `autopilot` module
-- signed in as the emulator's default app, and the tenant's devices read from its state (no request).
local autopilot = require "autopilot"

local M = {}

--- Options of `autopilot.connect` for the emulator's default app (client secret), with `extra` on top.
-- @tparam table emu a started emulator (`url`, `tenant`, `client_id`, `client_secret`), or the same fields
-- @tparam[opt] table extra more options, or replacements (kept as given, `false` included)
-- @treturn table the options
function M.options(emu, extra)
  local o = { tenant = emu.tenant, client_id = emu.client_id, client_secret = emu.client_secret,
              graph_url = emu.url, login_url = emu.url }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- A client connected to the emulator as its default app.
-- @tparam table emu
-- @tparam[opt] table extra more connect options
-- @treturn table the client; raises with connect's error when it fails
function M.connect(emu, extra)
  return assert(autopilot.connect(M.options(emu, extra)))
end

--- The tenant's devices, current fields, in cursor order.
-- @tparam table emu
-- @treturn table array of device tables
function M.devices(emu)
  return emu:state({ log = false }).devices
end

--- The ids of the tenant's devices.
-- @tparam table emu
-- @tparam[opt] integer n at most this many (the first ones)
-- @treturn table array of ids
function M.ids(emu, n)
  local ids = {}
  for i, d in ipairs(M.devices(emu)) do
    if n and i > n then break end
    ids[i] = d.id
  end
  return ids
end

--- Whether a device has a user assigned.
-- @tparam table d a device
-- @treturn boolean
function M.has_user(d)
  return d.userPrincipalName ~= ""
end

--- The tenant's devices that have a user assigned.
-- @tparam table emu
-- @treturn table array of device tables
function M.with_user(emu)
  local out = {}
  for _, d in ipairs(M.devices(emu)) do
    if M.has_user(d) then out[#out + 1] = d end
  end
  return out
end

--- The first device a predicate accepts.
-- @tparam table emu
-- @tparam[opt] function pred over a device table; default: it has a user
-- @treturn table the device; raises "no such device in the emulated tenant" when none fits
function M.find_device(emu, pred)
  pred = pred or M.has_user
  for _, d in ipairs(M.devices(emu)) do
    if pred(d) then return d end
  end
  error("no such device in the emulated tenant")
end

--- The requests an endpoint got, whatever their status.
-- @tparam table counters the `counters` of an emulator state
-- @tparam string endpoint e.g. "get", "batch", "unassignUserFromDevice"
-- @treturn integer
function M.count(counters, endpoint)
  local n = 0
  for _, c in pairs(counters[endpoint] or {}) do n = n + c end
  return n
end

--- A fresh emulated tenant for every test of the enclosing `describe`: before each test an emulator started
-- with `config`, a client connected to it and a scratch folder; after it, all three closed and removed.
-- @tparam table config options of `autopilot.emulator.start`
-- @tparam function set called as `set(emu, client, dir)` before each test (the spec's own locals)
function M.each_test(config, set)
  local emu, client, dir
  local busted = require "busted" -- its block functions: a module does not see the spec file's globals
  busted.before_each(function()
    emu = assert(require("autopilot.emulator").start(config))
    client = M.connect(emu)
    dir = require("files").tempdir()
    set(emu, client, dir)
  end)
  busted.after_each(function()
    client:close()
    emu:stop()
    require("files").remove(dir)
  end)
end

return M
