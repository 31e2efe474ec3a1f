--- A small bulk run whose last write meets a 503 once, with the progress bar on and every retry announced
-- by `autopilot.bulk.progress.on_retry`: what spec/bulk_progress_spec.lua runs in a narrow tmux pane.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local progress = require "autopilot.bulk.progress"

local emu = assert(emulator.start { devices = 10, seed = 12 })
local ids = {}
for i, d in ipairs(emu:state { log = false }.devices) do ids[i] = d.id end
local client = assert(autopilot.connect { tenant = emu.tenant, client_id = emu.client_id,
  client_secret = emu.client_secret, graph_url = emu.url, login_url = emu.url, on_retry = progress.on_retry })
-- once the first write is done (the bar is drawn by then), the last device's write is to fail once with
-- Retry-After 1; set from the progress callback since a fault set earlier would meet the plan's read instead
local armed = false
local function arm(p)
  if armed or p.done < 1 then return end
  armed = true
  emu:configure { faults = { targets = { [ids[#ids]] = { "503" } }, retry_after = 1 } }
end
local report = assert(client:unassign_users(ids, { force = true, progress = "bar", on_progress = arm,
  concurrency = 1, limit = { writes = 5, seconds = 2 } }))
print("retried " .. report.retries)
client:close()
emu:stop()
os.exit(report.failed == 0 and 0 or 1)
