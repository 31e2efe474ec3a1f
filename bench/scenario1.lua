--- Benchmarks 1 and 4: 1,000 unassigns against Intune's write limit.
--
-- The emulator enforces Intune's limits (100 writes per app per 20 s) on a clock ten times as fast (so 100
-- writes per 2 real seconds), with a lognormal latency of median 300 ms (p99 900 ms).
--
-- 1. Throttle-bound: our bulk run with the client's limit scaled to match and `concurrency` 100 (a window's
--    budget in flight at once); total time divided by the throttle floor, the least time the limit allows:
--    the last of ceil(N / 100) bursts cannot start before (ceil(N / 100) - 1) windows of 2 s have passed,
--    and cannot end before one median latency more. Target <= 1.05, no failed device, < 2% of requests
--    answered 429. The ratio to the floor without the latency is printed too.
-- 4. What a user runs today: a sequential loop, one request at a time, with the official SDKs' retry policy
--    (3 retries, 3 s base delay doubling, Retry-After honoured as whole seconds or an HTTP-date; a decimal
--    value defeats their parsers, so the base delay applies), on the same scenario: our speed-up factor.
--
-- usage: lua5.4 bench/scenario1.lua [N] [concurrency]   (BENCH_SEQ=0 skips the sequential loop)
local common = require "bench.common"

local N = tonumber(arg[1] or "1000")
local CONCURRENCY = tonumber(arg[2] or "100")
local SCALE = 10
local WINDOW, WRITES = 20 / SCALE, 100
local MEDIAN = 0.3
local CFG = { devices = N, seed = 1, throttle = true, time_scale = SCALE,
              latency = { median = MEDIAN * 1000, p99 = 900 } }

local function unassign_count(st)
  local n429, n = 0, 0
  for status, c in pairs(st.counters.unassignUserFromDevice or {}) do
    n = n + c
    if status == "429" then n429 = n429 + c end
  end
  return n, n429
end

-- 1: our bulk run
local emu, client = common.start(CFG)
local devices = common.devices(emu)
assert(client:device(devices[1].id)) -- the token, fetched before the clock starts
local t0 = common.now()
local report = assert(client:unassign_users(devices, { concurrency = CONCURRENCY, force = true, progress = false,
  limit = { writes = WRITES, seconds = WINDOW } }))
local ours = common.now() - t0
local st = emu:state { devices = false, log = false }
local requests, throttled = unassign_count(st)
client:close()
emu:stop()

local strict = (math.ceil(N / WRITES) - 1) * WINDOW
local floor = strict + MEDIAN
local ratio = ours / floor
common.say("throttle-bound: %d unassigns in %.2f s, floor %.1f s, %d requests, %d answered 429, %d failed",
  N, ours, floor, requests, throttled, report.failed)
common.result("1 throttle-bound", string.format("time / throttle floor (%.2f s / %.1f s)", ours, floor), ratio,
  "<= 1.05", ratio <= 1.05)
common.result("1 throttle-bound", string.format("time / floor without the last latency (%.1f s)", strict),
  ours / strict)
common.result("1 throttle-bound", "failed devices", report.failed, "0", report.failed == 0)
local share = requests > 0 and throttled / requests or 0
common.result("1 throttle-bound", "share of requests answered 429", string.format("%.2f%%", share * 100), "< 2%",
  share < 0.02)
common.result("1 throttle-bound", "early retries (emulator)", st.early_retries, "0", st.early_retries == 0)

if os.getenv("BENCH_SEQ") == "0" then return end

-- 4: the sequential loop with SDK-style retries, on a fresh tenant
local M_SDK = { retries = 3, base = 3, cap = 180 }

local function sdk_delay(err, attempt)
  -- the SDKs read Retry-After as whole seconds or an HTTP-date; anything else falls back to the base delay
  local ra = err.retry_after
  if ra and ra == math.floor(ra) then return ra end
  return math.min(M_SDK.cap, M_SDK.base * 2 ^ (attempt - 1))
end

emu, client = common.start(CFG, { max_retries = 0 })
devices = common.devices(emu)
assert(client:device(devices[1].id))
local failed, retries = 0, 0
t0 = common.now()
for _, d in ipairs(devices) do
  local attempt = 0
  while true do
    local ok, err = client:unassign_user(d.id)
    if ok then break end
    attempt = attempt + 1
    if attempt > M_SDK.retries or not (err.status == 429 or err.status == 503 or err.status == 504) then
      failed = failed + 1
      break
    end
    retries = retries + 1
    common.sleep(sdk_delay(err, attempt))
  end
end
local seq = common.now() - t0
client:close()
emu:stop()
common.say("sequential SDK-style loop: %d unassigns in %.1f s, %d retries, %d failed", N, seq, retries, failed)
common.result("4 sequential SDK loop", "sequential time / our time (speed-up)", seq / ours)
common.result("4 sequential SDK loop", "sequential loop: failed devices", failed)
