--- How the examples sign in: against a real tenant, or a rehearsal on the emulator.
--
--     local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
--     local client, emu = ex.client, ex.emu       -- emu is nil against a real tenant
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

if target == "1" then
  local emulator = require "autopilot.emulator"
  local emu, err = emulator.start { devices = 200, seed = 2026, throttle = true, time_scale = TIME_SCALE }
  if not emu then fail("cannot start the emulator: " .. tostring(err)) end
  ex.emu = emu
  ex.limit = { writes = 100, seconds = 20 / TIME_SCALE }
  ex.client, err = autopilot.connect { tenant = emu.tenant, client_id = emu.client_id,
    client_secret = emu.client_secret, graph_url = emu.url, login_url = emu.url }
  if not ex.client then fail(tostring(err)) end
elseif target and target ~= "" then
  local client, err = autopilot.connect { tenant = os.getenv("AZURE_TENANT_ID"),
    client_id = os.getenv("AZURE_CLIENT_ID"), client_secret = os.getenv("AZURE_CLIENT_SECRET"),
    graph_url = target, login_url = target }
  if not client then fail(tostring(err)) end
  ex.client = client
else
  local client, err = autopilot.connect()
  if not client then fail(tostring(err)) end
  ex.client = client
end

--- Close the client and stop an in-process emulator; then exit with `code`.
-- @tparam integer code
function ex.exit(code)
  ex.client:close()
  if ex.emu then ex.emu:stop() end
  os.exit(code)
end

return ex
