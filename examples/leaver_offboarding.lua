--- Leaver offboarding: take departing people off their Autopilot devices, from a CSV of serial numbers.
--
--     lua5.4 examples/leaver_offboarding.lua leavers.csv [report.csv]
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/leaver_offboarding.lua     (a rehearsal, with a sample CSV)
--
-- The CSV is Intune's device export or any file with a `Device Serial Number` (or `serial`) column. The run
-- shows its plan first (unknown or ambiguous serials, devices with no user), then unassigns with a journal
-- beside the CSV (run it again after a crash and nothing is sent twice), reads each device back until the
-- user is gone, and writes a report. Exit code 0 when every device was done, 1 otherwise, 2 for usage.
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.client

local csv, report_path = arg[1], arg[2]
if not csv and ex.emu then
  -- the rehearsal's leavers: four devices that have a user, and a serial nobody has
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  csv = dir .. "/leavers.csv"
  local f = assert(io.open(csv, "w"))
  f:write("Device Serial Number,Leaver\n")
  local n = 0
  for _, d in ipairs(ex.emu:state { log = false }.devices) do
    if d.userPrincipalName ~= "" and n < 4 then
      n = n + 1
      f:write(d.serialNumber, ",", d.userPrincipalName, "\n")
    end
  end
  f:write("NO-SUCH-SERIAL,someone@contoso.com\n")
  f:close()
end
if not csv then
  io.stderr:write("usage: lua5.4 examples/leaver_offboarding.lua leavers.csv [report.csv]\n")
  ex.exit(2)
end
report_path = report_path or (csv:gsub("%.csv$", "") .. "-report.csv")

local targets = { csv = csv }
local plan, perr = client:unassign_users(targets, { dry_run = true, progress = false })
if not plan then
  io.stderr:write("cannot plan: ", tostring(perr), "\n")
  ex.exit(1)
end
print(tostring(plan))
for _, r in ipairs(plan.results) do
  if r.outcome ~= "would_unassign" then print(string.format("  skip %s: %s", r.serial or r.id, r.outcome)) end
end

local report, err = client:unassign_users(targets, {
  journal = csv:gsub("%.csv$", "") .. "-journal.jsonl", verify = { timeout = 60, interval = 1 },
  limit = ex.limit, progress = true,
})
if not report then
  io.stderr:write("offboarding failed before any write: ", tostring(err), "\n")
  ex.exit(1)
end
print(report:summary())
local ok, werr = report:write_csv(report_path)
if not ok then io.stderr:write(tostring(werr), "\n") else print("report: " .. report_path) end
-- the rehearsal's unknown serial is expected: count only the writes that failed
ex.exit(report.failed == 0 and ok and 0 or 1)
