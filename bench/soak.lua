--- Benchmark 7, soak: 100,000 requests through one client, then 1,000 connect/close cycles, against an
-- emulator in a process of its own (so this process holds only the client). The requests are a mix, one
-- after another: a GET of a device, a listing of one page (`$top`), an unassign and the assign that puts the
-- user back. Each cycle connects, signs in and reads a device, then closes. Resident memory (VmRSS) and open
-- descriptors (/proc/PID/fd) are sampled after a full garbage collection every 10,000 requests and every
-- 100 cycles; the first sample of each part is taken after a warm-up (the first 10,000 requests, the first
-- 100 cycles) and compared with the last. Targets: descriptors flat (last - first <= 2), RSS growth <= 10%;
-- after the last close, exactly the descriptors there were before the first connect. For information: the
-- Lua heap, requests (cycles) per second, the connections the one client opened, and the emulator process's
-- RSS (its request log is a ring of 100,000 entries, so it grows until that fills).
--
-- usage: lua5.4 bench/soak.lua [requests] [cycles]
local common = require "bench.common"
local usage = require "process_usage"

local REQUESTS = tonumber(arg[1] or "100000")
local CYCLES = tonumber(arg[2] or "1000")
local REQUEST_SAMPLE, CYCLE_SAMPLE = REQUESTS // 10, CYCLES // 10
local BENCH = "7 soak"

local function mib(kb)
  return kb / 1024
end

-- Prints the samples of one part and its figures against the targets.
local function judge(part, unit, samples, count, took)
  for _, s in ipairs(samples) do
    common.say("%s: after %6d %s: RSS %6d kB, %d descriptors, Lua heap %.0f kB; emulator RSS %d kB", part, s.at,
      unit, s.rss_kb, s.fds, s.lua_kb, s.emulator_kb)
  end
  local first, last = samples[2], samples[#samples] -- samples[1] is before the warm-up
  local ratio = last.rss_kb / first.rss_kb
  common.result(BENCH, string.format("%s: RSS after %d / after %d %s (%d kB / %d kB, %+.2f MiB)", part, last.at,
    first.at, unit, last.rss_kb, first.rss_kb, mib(last.rss_kb - first.rss_kb)), ratio, "<= 1.10", ratio <= 1.10)
  local grown = last.fds - first.fds
  common.result(BENCH, string.format("%s: descriptors after %d - after %d %s (%d - %d)", part, last.at, first.at,
    unit, last.fds, first.fds), grown, "<= 2", grown <= 2)
  common.result(BENCH, string.format("%s: Lua heap after %d / after %d %s (%.0f kB / %.0f kB)", part, last.at,
    first.at, unit, last.lua_kb, first.lua_kb), last.lua_kb / first.lua_kb)
  common.result(BENCH, string.format("%s: %s per second (%d in %.1f s)", part, unit, count, took),
    string.format("%.0f", count / took))
  -- the emulator's own process, for information: its request log is a ring of 100,000 entries
  common.result(BENCH, string.format("%s: emulator process RSS after %d / after %d %s (%d kB / %d kB)", part,
    last.at, first.at, unit, last.emulator_kb, first.emulator_kb), last.emulator_kb / first.emulator_kb)
end

local e = common.spawn_emulator("--devices 1000 --seed 9")

-- A sample of this process, with the emulator's resident memory beside it.
local function sample(at)
  local s = usage.sample()
  s.at = at
  s.emulator_kb = math.tointeger(tonumber((common.read("/proc/" .. e.pid .. "/status") or ""):match(
    "VmRSS:%s*(%d+)"))) or 0
  return s
end

local function main()
  local client = common.connect(e)
  local devices = {}
  for _, d in ipairs(assert(client:list_devices {})) do
    if d.userPrincipalName ~= "" then devices[#devices + 1] = d end
  end
  assert(#devices > 0, "no device with a user")

  -- the mix, one request per step; every answer must be a success
  local steps = {
    function(d) return client:device(d.id) end,
    function() return client:list_devices { top = 50 } end,
    function(d) return client:unassign_user(d.id) end,
    function(d) return client:assign_user(d.id, d.userPrincipalName, d.addressableUserName) end,
  }
  local before = client:stats().requests
  local samples = { sample(0) }
  local t0 = common.now()
  for i = 1, REQUESTS do
    local d = devices[((i - 1) // #steps) % #devices + 1]
    local ok, err = steps[(i - 1) % #steps + 1](d)
    if not ok then error(string.format("request %d failed: %s", i, tostring(err))) end
    if i % REQUEST_SAMPLE == 0 then
      samples[#samples + 1] = sample(i)
    end
  end
  local took = common.now() - t0
  local stats = client:stats()
  client:close()
  common.say("requests: %d sent as counted by the session, %d connections, %d retries", stats.requests - before,
    stats.connections, stats.retries)
  judge("requests", "requests", samples, REQUESTS, took)
  common.result(BENCH, "requests: connections the one client opened", stats.connections)

  -- connect/close cycles: each signs in (a token request) and reads one device
  samples = { sample(0) }
  t0 = common.now()
  for i = 1, CYCLES do
    local c = common.connect(e)
    local d = devices[(i - 1) % #devices + 1]
    local ok, err = c:device(d.id)
    c:close()
    if not ok then error(string.format("cycle %d failed: %s", i, tostring(err))) end
    if i % CYCLE_SAMPLE == 0 then
      samples[#samples + 1] = sample(i)
    end
  end
  took = common.now() - t0
  judge("cycles", "cycles", samples, CYCLES, took)
  local exact = samples[#samples].fds - samples[1].fds
  common.result(BENCH, string.format("cycles: descriptors after the last close - before the first (%d - %d)",
    samples[#samples].fds, samples[1].fds), exact, "0", exact == 0)
end

local ok, err = xpcall(main, debug.traceback)
e.stop()
if not ok then error(err, 0) end
