--- Benchmark 8, embedding: the latency-bound run of benchmark 2 (2,000 unassigns, no throttling, every
-- answer 300 ms late, concurrency 32, `force = true`) three times against one emulator in this process:
--
--  1. blocking: `client:unassign_users` from the main thread, as benchmark 2 does;
--  2. bulk in a luv loop: the same call on an async client (`async = true`) inside one coroutine
--     (`autopilot.luv.spawn`), driven by `uv.run()`;
--  3. coroutines in a luv loop: 2,000 coroutines, each `client:unassign_user(id)` for one device, sharing
--     one async client connected with `concurrency = 32`.
--
-- In 2 and 3 a uv timer repeating every 10 ms runs in the same loop from the start of the run to its end
-- (as a host's own timer would). Figures, each for 2 and for 3:
--
--  * largest gap between two consecutive ticks (uv.hrtime; the first tick's gap counts from the timer's
--    start), target < 20 ms;
--  * ticks seen / ticks due (run time / 10 ms), and late ticks (a gap of 20 ms or more) / ticks seen, for
--    information: how often the loop was held, beyond the worst case;
--  * the run's rate over the blocking run's rate in the same process (equivalently blocking time / this
--    run's time), target >= 0.95;
--  * devices that failed (for 3: calls that did not return true), target 0.
--
-- A run's time is from its start (the first spawn) to the end of its last device (the bulk run's return;
-- the last coroutine's end); each client's token is fetched by a read before the clock starts.
--
-- usage: lua5.4 bench/embed.lua [N] [concurrency] [latency_ms]
local common = require "bench.common"
local uv = require "luv"
local ap_luv = require "autopilot.luv"

local N = tonumber(arg[1] or "2000")
local CONCURRENCY = tonumber(arg[2] or "32")
local LATENCY_MS = tonumber(arg[3] or "300")
local TICK_MS = 10
local LATE_MS = 20 -- a gap this long or longer is a late tick
local BENCH = "8 embed"

local emu = assert(require("autopilot.emulator").start { devices = N, seed = 8,
  latency = { fixed = LATENCY_MS } })
local devices = common.devices(emu)
local BULK_OPTS = { concurrency = CONCURRENCY, limit = false, force = true, progress = false }

-- The host's timer: ticks every 10 ms until `stop()`; records the largest gap between ticks.
local function host_timer()
  local t = { ticks = 0, longest_ms = 0, longest_at = 0, late = 0 }
  local timer = uv.new_timer()
  local start = uv.hrtime()
  local last, last_kb = start, collectgarbage("count")
  timer:start(TICK_MS, TICK_MS, function()
    local now, kb = uv.hrtime(), collectgarbage("count")
    local gap = (now - last) / 1e6
    if gap > t.longest_ms then
      -- the Lua heap across the gap: a drop means a garbage collection cycle ended inside it
      t.longest_ms, t.longest_at, t.heap_across = gap, (now - start) / 1e9, { last_kb, kb }
    end
    if gap >= LATE_MS then t.late = t.late + 1 end
    last, last_kb, t.ticks = now, kb, t.ticks + 1
  end)
  function t.stop()
    timer:stop()
    timer:close()
    t.due = (uv.hrtime() - start) / 1e6 / TICK_MS
  end
  return t
end

-- 1. blocking
local blocking = common.connect(emu)
assert(blocking:device(devices[1].id)) -- the token, fetched before the clock starts
local t0 = common.now()
local breport = assert(blocking:unassign_users(devices, BULK_OPTS))
local blocking_s = common.now() - t0
blocking:close()
common.say("blocking: %d unassigns in %.2f s: %.1f/s, %d failed", N, blocking_s, N / blocking_s, breport.failed)

-- Runs `start(client, finished)` inside the default luv loop with the host's timer ticking, on a new async
-- client (`copts` on top): `start` spawns the work and calls `finished()` when its last device is done.
-- Returns the run's seconds and the timer.
local function in_luv_loop(copts, start)
  copts.async = true
  local client = common.connect(emu, copts)
  assert(client:device(devices[1].id)) -- the token; from the main thread it blocks, as without async
  local timer, took
  local began = common.now()
  timer = host_timer()
  start(client, function()
    took = common.now() - began
    timer.stop()
  end)
  uv.run()
  client:close()
  uv.run() -- libuv finishes closing the handles that watched the client's descriptor
  assert(took, "the loop ended before the run did")
  return took, timer
end

local function report_run(label, took, timer, failed)
  local rate, brate = N / took, N / blocking_s
  local heap = timer.heap_across or { 0, 0 }
  common.say("%s: %d unassigns in %.2f s: %.1f/s; %d ticks of %.0f due, %d late (>= %d ms), largest gap %.1f ms "
    .. "at %.2f s (Lua heap %.0f -> %.0f kB across it); %d failed", label, N, took, rate, timer.ticks, timer.due,
    timer.late, LATE_MS, timer.longest_ms, timer.longest_at, heap[1], heap[2], failed)
  common.result(BENCH, string.format("%s: largest gap between %d ms ticks (ms)", label, TICK_MS),
    timer.longest_ms, "< 20", timer.longest_ms < 20)
  common.result(BENCH, string.format("%s: ticks seen / ticks due (%d / %.0f)", label, timer.ticks, timer.due),
    timer.ticks / timer.due)
  common.result(BENCH, string.format("%s: late ticks (gap >= %d ms) / ticks", label, LATE_MS),
    string.format("%d / %d", timer.late, timer.ticks))
  common.result(BENCH, string.format("%s: rate / blocking rate (%.1f/s vs %.1f/s)", label, rate, brate),
    rate / brate, ">= 0.95", rate / brate >= 0.95)
  common.result(BENCH, label .. ": failed devices", failed, "0", failed == 0)
end

-- 2. one bulk run in one coroutine
local bulk_task
local took, timer = in_luv_loop({}, function(client, finished)
  bulk_task = ap_luv.spawn(function() return client:unassign_users(devices, BULK_OPTS) end)
  bulk_task.on_done = finished
end)
local report = bulk_task.ok and bulk_task.results[1]
if not report then common.say("bulk run in the loop failed: %s", tostring(bulk_task.error or bulk_task.results[2])) end
report_run("bulk in a luv loop", took, timer, report and report.failed or N)

-- 3. one coroutine per device
local tasks, left = {}, N
took, timer = in_luv_loop({ concurrency = CONCURRENCY }, function(client, finished)
  local function one_done()
    left = left - 1
    if left == 0 then finished() end
  end
  for i, d in ipairs(devices) do
    tasks[i] = ap_luv.spawn(function() return client:unassign_user(d.id) end)
    tasks[i].on_done = one_done
  end
end)
local failed = 0
for _, t in ipairs(tasks) do
  if not (t.ok and t.results[1]) then failed = failed + 1 end
end
report_run(string.format("%d coroutines in a luv loop", N), took, timer, failed)
emu:stop()
