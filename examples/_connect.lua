--- How the examples sign in: against a real tenant, or a rehearsal on the emulator.
--
--     local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
--     local client, emu = ex.client, ex.emu       -- emu is nil against a real tenant
--     local client = ex.connect { async = true }  -- or: with more connect options (then ex.client is it)
--
-- * `AUTOPILOT_EXAMPLE_EMULATOR=1`: start an emulator in this process (200 devices, Intune's throttling on a
--   clock ten times as fast) and sign in as its app. `ex.limit` is the write budget scaled to that clock.
-- * `AUTOPILOT_EXAMPLE_EMULATOR=http://127.0.0.1:PORT`: an emulator already running (`bin/autopilot-emulator`
--   prints its URL and app), with the credentials from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
-- * unset: a real tenant, `autopilot.connect()` reading the AZURE_* variables.
--
-- Copy the part you need into your own script: this file is only for the examples.
local autopilot = require "autopilot"

local TIME_SCALE = 10
local target = os.getenv("AUTOPILOT_EXAMPLE_EMULATOR")
local ex = {}

local function fail(msg)
  io.stderr:write(msg, "\n")
  os.exit(2)
end

local base -- connect's options for the target, or nil for autopilot.connect() from the environment
if target == "1" then
  local emulator = require "autopilot.emulator"
  local emu, err = emulator.start { devices = 200, seed = 2026, throttle = true, time_scale = TIME_SCALE }
  if not emu then fail("cannot start the emulator: " .. tostring(err)) end
  ex.emu = emu
  ex.limit = { writes = 100, seconds = 20 / TIME_SCALE }
  base = { tenant = emu.tenant, client_id = emu.client_id, client_secret = emu.client_secret,
    graph_url = emu.url, login_url = emu.url }
elseif target and target ~= "" then
  base = { tenant = os.getenv("AZURE_TENANT_ID"), client_id = os.getenv("AZURE_CLIENT_ID"),
    client_secret = os.getenv("AZURE_CLIENT_SECRET"), graph_url = target, login_url = target }
end

--- Connect to the target with `extra` connect options on top (e.g. `{ async = true }`); the client becomes
-- `ex.client`, which `ex.exit` closes. Exits with code 2 when connect fails.
-- @tparam[opt] table extra
-- @treturn autopilot.Client
function ex.connect(extra)
  local opts = base
  if extra then
    -- connect() alone reads the AZURE_* variables; with options, the same ones are read here
    opts = {}
    for k, v in pairs(base or require("autopilot.credentials").from_environment()) do opts[k] = v end
    for k, v in pairs(extra) do opts[k] = v end
  end
  local client, err = autopilot.connect(opts)
  if not client then fail(tostring(err)) end
  rawset(ex, "client", client)
  return client
end

-- `ex.client` connects on first use, so that a script calling `ex.connect(extra)` makes only its own client
setmetatable(ex, { __index = function(_, k)
  if k == "client" then return ex.connect() end
end })

--- Close the client and stop an in-process emulator; then exit with `code`.
-- @tparam integer code
function ex.exit(code)
  local client = rawget(ex, "client")
  if client then client:close() end
  if ex.emu then ex.emu:stop() end
  os.exit(code)
end

--- The embedding examples' devices and how they split: ids from the command line, or in a rehearsal up to
-- 24 emulator devices that have a user, every answer held 100 ms as over a real network (so the host's own
-- work visibly runs meanwhile). Exits 2 with a usage line when there are fewer than two.
-- @tparam string script the example's path, for the usage line
-- @treturn table singles (the first half), table bulk (the rest)
function ex.embed_targets(script)
  local ids = { table.unpack(arg) }
  if #ids == 0 and ex.emu then
    ex.emu:configure { latency = { fixed = 100 } }
    for _, d in ipairs(ex.emu:state { log = false }.devices) do
      if d.userPrincipalName ~= "" and #ids < 24 then ids[#ids + 1] = d.id end
    end
  end
  if #ids < 2 then
    io.stderr:write("usage: lua5.4 " .. script .. " ID ID [ID...]\n")
    ex.exit(2)
  end
  local singles, bulk = {}, {}
  for i, id in ipairs(ids) do
    table.insert(i <= #ids // 2 and singles or bulk, id)
  end
  return singles, bulk
end

return ex
