--- The demo: a bulk unassign against a local emulator of Microsoft Graph, end to end.
--
--     make demo          (or, from the repository root:
--     LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/demo.lua)
--
-- It starts the emulator with a tenant of 3,000 Autopilot devices, realistic latency, Intune's throttling
-- (100 writes per 20 s per app) and eventual consistency, on a clock running ten times as fast; signs in
-- with the emulated app's client secret; selects the devices of one group tag; shows the plan (a dry run);
-- unassigns their users at the service's limit with a progress display, a journal and verification; prints
-- the report and writes it as CSV. Options: `lua5.4 examples/demo.lua [group-tag] [devices]`.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"

local GROUP_TAG = arg[1] or "Kiosk"
local DEVICES = tonumber(arg[2] or "3000")
local TIME_SCALE = 10 -- emulated seconds per real second

local emu = assert(emulator.start {
  devices = DEVICES, seed = 2026, time_scale = TIME_SCALE,
  latency = { median = 150, p99 = 900 },      -- milliseconds, real time
  throttle = true,                            -- Intune's limits, on the emulated clock
  consistency_delay = 30,                     -- emulated seconds before a write shows on GET
})
io.stderr:write(string.format("emulator: %s, %d devices, clock x%d\n", emu.url, DEVICES, TIME_SCALE))

local client = assert(autopilot.connect {
  tenant = emu.tenant, client_id = emu.client_id, client_secret = emu.client_secret,
  graph_url = emu.url, login_url = emu.url,
})

-- the same run, written for a real tenant, would keep the default limit (100 writes per 20 s); on the
-- emulator's faster clock the budget shrinks to match
local limit = { writes = 100, seconds = 20 / TIME_SCALE }
local out = os.getenv("AUTOPILOT_DEMO_DIR") or ("/tmp/autopilot-demo-" .. os.date("!%Y%m%dT%H%M%S"))
assert(os.execute("mkdir -p '" .. out:gsub("'", "'\\''") .. "'"))
local query = { group_tag = GROUP_TAG }

local plan = assert(client:unassign_users(query, { dry_run = true, progress = false }))
print(string.format("plan for group tag %q: %s", GROUP_TAG, tostring(plan)))

local report, err = client:unassign_users(query, {
  concurrency = 16, limit = limit, journal = out .. "/journal.jsonl", progress = true,
  verify = { timeout = 30, interval = 1 },
})
if not report then
  io.stderr:write("bulk unassign failed: ", tostring(err), "\n")
  emu:stop()
  os.exit(1)
end

print(report:summary())
assert(report:write_csv(out .. "/report.csv"))
print("report: " .. out .. "/report.csv")
print("journal: " .. out .. "/journal.jsonl (run the demo's call again with it and nothing is sent twice)")

local st = emu:state { devices = false, log = false }
print(string.format("emulator saw %d requests, %d answered 429, %d early retries", st.requests, st.throttled,
  st.early_retries))
client:close()
emu:stop()
os.exit(report.failed == 0 and 0 or 1)
