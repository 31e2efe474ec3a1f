--- Undo a bulk run: a run that records a journal, then `client:restore` from that journal, which assigns
-- each device's previous user back.
--
--     lua5.4 examples/undo_run.lua run-journal.jsonl [undo-journal.jsonl]   (undo an earlier run)
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/undo_run.lua          (a rehearsal: a run, then its undo)
--
-- The journal of every bulk run records whose assignment it removed (`previous_upn`, `previous_user_name`).
-- The undo shows its plan first, then restores with a journal of its own (run it again after a crash and
-- nothing is sent twice) and reads each device back. A device someone assigned to another user since the
-- run is left alone (`skipped_changed`). Exit code 0 when every device was put back, 1 otherwise, 2 for usage.
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.client

local run_journal, undo_journal = arg[1], arg[2]
if not run_journal and ex.emu then
  -- the rehearsal: unassign three devices that have a user, with a journal; one is reassigned afterwards
  local dir = os.getenv("TMPDIR") or "/tmp"
  run_journal = dir .. "/undo-example-run.jsonl"
  os.remove(run_journal)
  local ids = {}
  for _, d in ipairs(ex.emu:state { log = false }.devices) do
    if d.userPrincipalName ~= "" and #ids < 3 then ids[#ids + 1] = d.id end
  end
  local run, err = client:unassign_users(ids, { journal = run_journal, limit = ex.limit, progress = false })
  if not run then
    io.stderr:write("the run to undo failed: ", tostring(err), "\n")
    ex.exit(1)
  end
  print(tostring(run))
  for _, line in ipairs(run:lines()) do print("  " .. line) end
  -- someone gives the last device to a new user before the undo: it must not be overwritten
  assert(client:assign_user(ids[3], "new.owner@contoso.com"))
end
if not run_journal then
  io.stderr:write("usage: lua5.4 examples/undo_run.lua run-journal.jsonl [undo-journal.jsonl]\n")
  ex.exit(2)
end
undo_journal = undo_journal or (run_journal:gsub("%.jsonl$", "") .. "-undo.jsonl")
if ex.emu and not arg[1] then os.remove(undo_journal) end -- a rehearsal starts afresh

local plan, perr = client:restore(run_journal, { dry_run = true, progress = false })
if not plan then
  io.stderr:write("cannot plan the undo: ", tostring(perr), "\n")
  ex.exit(1)
end
print(tostring(plan))
for _, line in ipairs(plan:lines()) do print("  " .. line) end

local report, err = client:restore(run_journal, { journal = undo_journal, verify = { timeout = 60, interval = 1 },
  limit = ex.limit, progress = true })
if not report then
  io.stderr:write("the undo failed before any write: ", tostring(err), "\n")
  ex.exit(1)
end
print(report:summary())
for _, line in ipairs(report:lines()) do print("  " .. line) end
print("undo journal: " .. undo_journal)
-- a device reassigned since the run is skipped on purpose: count only what failed or did not show
ex.exit((report.failed == 0 and report.unverified == 0) and 0 or 1)
