--- Child process of bench/listing.lua: walks every device of the emulator named by the environment and
-- prints `<devices> <seconds> <peak RSS kB>`. Mode "each" streams (client:each_device), "list" builds
-- the whole array (client:list_devices).
-- usage: lua5.4 bench/list_child.lua each|list
local autopilot = require "autopilot"
local host = require "autopilot.emulator.host" -- for its monotonic clock only

local mode = arg[1] or "each"
local client = assert(autopilot.connect { tenant = os.getenv("EMU_TENANT"), client_id = os.getenv("EMU_CLIENT_ID"),
  client_secret = os.getenv("EMU_CLIENT_SECRET"), graph_url = os.getenv("EMU_URL"),
  login_url = os.getenv("EMU_URL") })
local t0 = host.clock()
local n = 0
if mode == "each" then
  for d, err in client:each_device() do
    if not d then error(tostring(err)) end
    n = n + 1
  end
else
  n = #assert(client:list_devices())
end
local took = host.clock() - t0
local f = assert(io.open("/proc/self/status"))
local hwm = f:read("a"):match("VmHWM:%s*(%d+)")
f:close()
print(n, string.format("%.3f", took), hwm)
