--- A small bulk run against an emulator started here, with the progress display on: what
-- spec/bulk_progress_spec.lua runs in a narrow tmux pane. Prints the summary's rate at the end.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"

local emu = assert(emulator.start { devices = 20, seed = 11, consistency_delay = 1 })
local client = assert(autopilot.connect { tenant = emu.tenant, client_id = emu.client_id,
  client_secret = emu.client_secret, graph_url = emu.url, login_url = emu.url })
local ids = {}
for i, d in ipairs(emu:state { log = false }.devices) do ids[i] = d.id end
-- 5 writes a second: the run waits for its budget, and each write takes a second to show (verify phase)
local report = assert(client:unassign_users(ids, { force = true, progress = true, concurrency = 4,
  limit = { writes = 5, seconds = 1 }, verify = { timeout = 10, interval = 0.3 } }))
-- the pane is narrow: only the summary's rate, as the report's one line prints it
print("summary " .. assert(tostring(report):match("%(([%d.]+ writes/s)%)")))
client:close()
emu:stop()
os.exit(report.failed == 0 and 0 or 1)
