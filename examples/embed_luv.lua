--- Embedding lua-autopilot in a luv (libuv) program: the host's loop keeps running its own timers and
-- sockets while several coroutines share one client, each unassigning a device, and one more runs a bulk
-- unassign with progress. Nothing blocks the loop: a waiting call yields to it.
--
--     lua5.4 examples/embed_luv.lua ID ID [ID...]     (the first half one coroutine each, the rest one bulk run)
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/embed_luv.lua
--
-- What to take from it: `async = true` at connect; `autopilot.luv.spawn` for each piece of work (a task
-- whose `done`, `ok`, `results` say how it ended); `uv.run()` as the host already calls it; and, after
-- `client:close()`, one more `uv.run()` so libuv finishes closing the handles that watched the client.
-- Exit code 0 when every device was done and the timer ticked while the work ran, 1 otherwise, 2 for usage.
local uv = require "luv"
local ap_luv = require "autopilot.luv"
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.connect { async = true } -- calls made inside a coroutine yield instead of blocking

local singles, bulk = ex.embed_targets("examples/embed_luv.lua")

-- The host's own work: a timer every 10 ms, which records the longest gap between two ticks.
local ticks, busy_ticks, longest_ms, last = 0, 0, 0, uv.hrtime()
local tasks = {}
local function all_done()
  for _, t in ipairs(tasks) do
    if not t.done then return false end
  end
  return true
end
local timer = uv.new_timer()
timer:start(10, 10, function()
  local now = uv.hrtime()
  longest_ms = math.max(longest_ms, (now - last) / 1e6)
  last, ticks = now, ticks + 1
  if all_done() then
    timer:close() -- nothing left for this host to do: uv.run() returns
  else
    busy_ticks = busy_ticks + 1
  end
end)

-- One coroutine per device: each call waits without blocking the loop, and they share the client's
-- connections and concurrency.
for _, id in ipairs(singles) do
  tasks[#tasks + 1] = ap_luv.spawn(function() return client:unassign_user(id) end)
end

-- And a bulk run in one more coroutine: its progress callback runs in that coroutine between steps.
local progress_calls, last_progress = 0, nil
local bulk_task = ap_luv.spawn(function()
  return client:unassign_users(bulk, {
    progress = false, limit = ex.limit,
    on_progress = function(p)
      progress_calls, last_progress = progress_calls + 1, p
    end,
  })
end)
tasks[#tasks + 1] = bulk_task

uv.run() -- the host's loop, as it runs anyway

local failed = 0
for i, t in ipairs(tasks) do
  if t ~= bulk_task then
    local ok, err = t.ok and t.results[1], t.ok and t.results[2] or t.error
    if not ok then failed = failed + 1 end
    print(string.format("device %s: %s", singles[i], ok and "unassigned" or ("FAILED: " .. tostring(err))))
  end
end
local report, berr = bulk_task.ok and bulk_task.results[1], bulk_task.ok and bulk_task.results[2] or bulk_task.error
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
print(string.format("host timer: %d ticks, %d of them while the work ran; longest gap between ticks %.1f ms",
  ticks, busy_ticks, longest_ms))

client:close()
uv.run() -- libuv finishes closing the handles that watched the client's descriptor
ex.exit((failed == 0 and busy_ticks > 0) and 0 or 1)
