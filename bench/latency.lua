--- Benchmark 2, latency-bound: 2,000 unassigns, no throttling, every answer 300 ms late, concurrency 32.
-- The best any client can do is concurrency / latency requests per second; we print the achieved rate
-- divided by that. Target >= 0.9. (A fixed latency, so its median is also its mean: with a lognormal one
-- even a perfect client would fall short of concurrency / median.)
--
-- usage: lua5.4 bench/latency.lua [N] [concurrency] [latency_ms]
local common = require "bench.common"

local N = tonumber(arg[1] or "2000")
local CONCURRENCY = tonumber(arg[2] or "32")
local LATENCY = tonumber(arg[3] or "300") / 1000

local emu, client = common.start { devices = N, seed = 2, latency = { fixed = LATENCY * 1000 } }
local devices = common.devices(emu)
assert(client:device(devices[1].id))
local t0 = common.now()
local report = assert(client:unassign_users(devices, { concurrency = CONCURRENCY, limit = false, force = true,
  progress = false }))
local took = common.now() - t0
client:close()
emu:stop()

local rate = N / took
local ideal = CONCURRENCY / LATENCY
common.say("latency-bound: %d unassigns in %.2f s: %.1f/s, ideal %.1f/s, %d failed", N, took, rate, ideal,
  report.failed)
common.result("2 latency-bound", string.format("rate / (concurrency / latency) (%.1f/s of %.1f/s)", rate, ideal),
  rate / ideal, ">= 0.9", rate / ideal >= 0.9)
common.result("2 latency-bound", "failed devices", report.failed, "0", report.failed == 0)
