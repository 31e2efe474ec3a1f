--- Child process of bench/scenario1.lua's two-process case: unassigns the devices whose ids a file lists,
-- against the emulator named by the environment, with the full limit, and prints
-- `<start> <end> <succeeded> <failed> <throttled>` (start and end on the machine's monotonic clock, which
-- both children share, so the parent can take the combined time).
-- usage: lua5.4 bench/pacing_child.lua IDS_FILE CONCURRENCY WRITES SECONDS
local autopilot = require "autopilot"
local host = require "autopilot.emulator.host" -- for its monotonic clock only

local want = {}
for line in io.lines(arg[1]) do want[line] = true end
local client = assert(autopilot.connect { tenant = os.getenv("EMU_TENANT"), client_id = os.getenv("EMU_CLIENT_ID"),
  client_secret = os.getenv("EMU_CLIENT_SECRET"), graph_url = os.getenv("EMU_URL"),
  login_url = os.getenv("EMU_URL") })
local devices = {}
for _, d in ipairs(assert(client:list_devices())) do
  if want[d.id] then devices[#devices + 1] = d end
end
-- both children start writing together: the parent's go file appears once both have listed
io.open(arg[1] .. ".ready", "w"):close()
while not io.open(arg[1]:gsub("[^/]+$", "go"), "r") do os.execute("sleep 0.01") end
local t0 = host.clock()
local report = assert(client:unassign_users(devices, { concurrency = tonumber(arg[2]), force = true,
  progress = false, limit = { writes = tonumber(arg[3]), seconds = tonumber(arg[4]) } }))
print(string.format("%.6f %.6f %d %d %d", t0, host.clock(), report.succeeded, report.failed,
  report.throttled or 0))
