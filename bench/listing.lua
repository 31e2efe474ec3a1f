--- Benchmark 5, listing: walking 100,000 devices in pages of 1,000 (the service's page size), streamed with
-- `client:each_device()`: devices per second, and the peak RSS (VmHWM) of the walking process at 10,000
-- devices against 100,000 (target: within 10%, since streaming keeps one page at a time). Each walk runs in
-- a child process of its own (three times per size; medians count), against an emulator in a process of its
-- own. A middle size shows where the peak levels off; `list_devices` (the whole array) is measured too.
--
-- usage: lua5.4 bench/listing.lua [small] [large]
local common = require "bench.common"

local SMALL = tonumber(arg[1] or "10000")
local LARGE = tonumber(arg[2] or "100000")
local MIDDLE = math.floor((SMALL * 3 + LARGE) / 4 / 1000) * 1000
local RUNS = 3

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function walk(size, mode, runs)
  local e = common.spawn_emulator("--devices " .. size .. " --seed 5")
  local ok, out = pcall(function()
    local env = string.format("EMU_URL=%s EMU_TENANT=%s EMU_CLIENT_ID=%s EMU_CLIENT_SECRET=%s LUA_PATH=%s LUA_CPATH=%s",
      common.sh_quote(e.url), common.sh_quote(e.tenant), common.sh_quote(e.client_id),
      common.sh_quote(e.client_secret), common.sh_quote(package.path), common.sh_quote(package.cpath))
    local secs, hwms = {}, {}
    for i = 1, runs do
      local p = assert(io.popen(env .. " lua5.4 bench/list_child.lua " .. mode .. " 2>&1"))
      local text = p:read("a")
      p:close()
      local n, s, hwm = text:match("^(%d+)%s+([%d%.]+)%s+(%d+)")
      assert(n, "the walk failed: " .. text)
      assert(tonumber(n) == size, string.format("walked %s of %d devices", n, size))
      secs[i], hwms[i] = tonumber(s), tonumber(hwm)
    end
    return { secs = median(secs), hwm = median(hwms) }
  end)
  e.stop()
  if not ok then error(out, 0) end
  common.say("%s %d devices: %.2f s (%.0f devices/s), peak RSS %d kB (medians of %d)", mode, size, out.secs,
    size / out.secs, out.hwm, runs)
  return out
end

local small = walk(SMALL, "each", RUNS)
local middle = walk(MIDDLE, "each", RUNS)
local large = walk(LARGE, "each", RUNS)
local whole = walk(LARGE, "list", 1)
common.result("5 listing", string.format("devices per second, %d devices streamed", LARGE),
  string.format("%.0f", LARGE / large.secs))
local ratio = large.hwm / small.hwm
common.result("5 listing", string.format("peak RSS streaming %d / %d devices (%d kB / %d kB)", LARGE, SMALL,
  large.hwm, small.hwm), ratio, "<= 1.10", ratio <= 1.10)
common.result("5 listing", string.format("peak RSS streaming %d / %d devices (%d kB / %d kB)", LARGE, MIDDLE,
  large.hwm, middle.hwm), large.hwm / middle.hwm)
common.result("5 listing", string.format("peak RSS of list_devices (whole array), %d devices", LARGE),
  string.format("%d kB", whole.hwm))
