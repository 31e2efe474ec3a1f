--- Group-tag sweep: unassign every device of one group tag, with a dry run first and a report.
--
--     lua5.4 examples/group_tag_sweep.lua GROUP-TAG [output-dir]
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/group_tag_sweep.lua Kiosk
--
-- Typical for shared or kiosk devices that should not keep the last person's name. The dry run lists
-- what would change; the run writes `<tag>-report.csv` and `<tag>-report.jsonl` into the output directory.
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.client

local tag = arg[1] or (ex.emu and "Kiosk")
if not tag then
  io.stderr:write("usage: lua5.4 examples/group_tag_sweep.lua GROUP-TAG [output-dir]\n")
  ex.exit(2)
end
local dir = arg[2] or os.getenv("TMPDIR") or "/tmp"
local query = { group_tag = tag }

local plan, perr = client:unassign_users(query, { dry_run = true, progress = false })
if not plan then
  io.stderr:write("cannot list group tag ", tag, ": ", tostring(perr), "\n")
  ex.exit(1)
end
print(tostring(plan))
local shown = 0
local lines = plan:lines() -- one per device, naming whose assignment would go
for i, r in ipairs(plan.results) do
  if r.outcome == "would_unassign" and shown < 5 then
    shown = shown + 1
    print("  " .. lines[i])
  end
end

local report, err = client:unassign_users(query, { limit = ex.limit, progress = true, concurrency = 8 })
if not report then
  io.stderr:write("sweep failed: ", tostring(err), "\n")
  ex.exit(1)
end
print(report:summary())
local base = dir .. "/" .. tag:gsub("[^%w%-_]", "_") .. "-report"
assert(report:write_csv(base .. ".csv"))
assert(report:write_jsonl(base .. ".jsonl"))
print("report: " .. base .. ".csv, " .. base .. ".jsonl")

if ex.emu then
  -- the rehearsal checks itself: no device of the tag keeps a user
  for _, d in ipairs(ex.emu:state { log = false }.devices) do
    if d.groupTag:lower() == tag:lower() and d.userPrincipalName ~= "" then
      io.stderr:write("still assigned: ", d.id, "\n")
      ex.exit(1)
    end
  end
end
ex.exit(report.failed == 0 and 0 or 1)
