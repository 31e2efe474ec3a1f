--- Embedding lua-autopilot in a cqueues program: the host's own coroutines keep running (here one that
-- wakes every 10 ms) while several coroutines share one client, each unassigning a device, and one more
-- runs a bulk unassign with progress. Nothing blocks the controller: a waiting call polls in cqueues.
--
--     lua5.4 examples/embed_cqueues.lua ID ID [ID...] (the first half one coroutine each, the rest one bulk run)
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/embed_cqueues.lua
--
-- What to take from it: `async = true` at connect, and `autopilot.cqueues.wrap(cq, fn)` instead of
-- `cq:wrap(fn)` for the coroutines that call the client (it turns the client's yields into `cqueues.poll`;
-- cqueues' own calls, such as `cqueues.sleep`, work inside it as usual). Exit code 0 when every device was
-- done and the host's coroutine ran while the work did, 1 otherwise, 2 for usage.
local cqueues = require "cqueues"
local ap_cq = require "autopilot.cqueues"
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.connect { async = true } -- calls made inside a coroutine yield instead of blocking

local singles, bulk = ex.embed_targets("examples/embed_cqueues.lua")

local cq = cqueues.new()
local pending = #singles + 1 -- coroutines still working on the client

-- One coroutine per device: each call waits in cqueues.poll, and they share the client's connections and
-- concurrency. cqueues keeps no results, so each coroutine puts its own where the script reads them.
local outcomes = {}
for i, id in ipairs(singles) do
  ap_cq.wrap(cq, function()
    outcomes[i] = table.pack(client:unassign_user(id))
    pending = pending - 1
  end)
end

-- And a bulk run in one more coroutine: its progress callback runs in that coroutine between steps.
local progress_calls, last_progress = 0, nil
local report, berr
ap_cq.wrap(cq, function()
  report, berr = client:unassign_users(bulk, {
    progress = false, limit = ex.limit,
    on_progress = function(p)
      progress_calls, last_progress = progress_calls + 1, p
    end,
  })
  pending = pending - 1
end)

-- The host's own work: a coroutine that sleeps 10 ms at a time and records the longest gap between wakes.
local ticks, longest_ms = 0, 0
cq:wrap(function()
  local last = cqueues.monotime()
  while pending > 0 do
    cqueues.sleep(0.01)
    local now = cqueues.monotime()
    longest_ms = math.max(longest_ms, (now - last) * 1000)
    last, ticks = now, ticks + 1
  end
end)

-- the host's loop, as it runs anyway; an error raised in any coroutine ends it
local ok, lerr = cq:loop()
if not ok then
  io.stderr:write("the loop stopped: ", tostring(lerr), "\n")
  ex.exit(1)
end

local failed = 0
for i, id in ipairs(singles) do
  local o = outcomes[i] or { nil, "never finished" }
  if not o[1] then failed = failed + 1 end
  print(string.format("device %s: %s", id, o[1] and "unassigned" or ("FAILED: " .. tostring(o[2]))))
end
if report then
  print(report:summary())
  for _, r in ipairs(report.results) do -- done: unassigned now, or had no user already
    if r.outcome ~= "unassigned" and r.outcome ~= "already_unassigned" then failed = failed + 1 end
  end
else
  print("bulk run FAILED: " .. tostring(berr))
  failed = failed + #bulk
end
print(string.format("progress reported %d times (last: %s %d/%d)", progress_calls,
  last_progress and last_progress.phase or "-", last_progress and last_progress.done or 0,
  last_progress and last_progress.total or 0))
print(string.format("host coroutine: %d wakes while the work ran; longest gap between wakes %.1f ms", ticks,
  longest_ms))
ex.exit((failed == 0 and pending == 0 and ticks > 0) and 0 or 1)
