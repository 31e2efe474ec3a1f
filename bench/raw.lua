--- Benchmark 3, raw overhead: 20,000 unassigns with no latency and no throttling, our bulk run against
-- `curl --parallel --parallel-max 32` sending the same requests (URLs, method, headers, bearer token) to the
-- same emulator, which runs in a process of its own. Each client runs three times, alternately; the best
-- run of each counts (the least disturbed by whatever else the machine runs). Target: our rate / curl's >= 0.9.
--
-- Then the CPU cost per request of each client, counted in instructions by `valgrind --tool=callgrind`
-- (hardware counters are often unavailable in containers): each client runs with SMALL and LARGE requests,
-- and the difference divided by LARGE - SMALL is the cost of one request without start-up.
--
-- usage: lua5.4 bench/raw.lua [N] [concurrency]    (BENCH_CALLGRIND=0 skips the instruction counts)
local common = require "bench.common"
local cjson = require "cjson"
local files = require "files"
local shell = require "shell"

local N = tonumber(arg[1] or "20000")
local CONCURRENCY = tonumber(arg[2] or "32")
local SMALL, LARGE = 200, 2000
local ROUNDS = 3

local e = common.spawn_emulator("--devices " .. N .. " --seed 3")
local dir = common.tmpdir()
local function main()
  local client = common.connect(e)
  local devices = assert(client:list_devices {})
  assert(#devices == N)

  -- a token of the emulated app, for curl; files holding it are 0600 and removed at the end
  files.write(dir .. "/form", "grant_type=client_credentials&client_id=" .. e.client_id .. "&client_secret=" ..
    e.client_secret .. "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default", "600")
  local token = cjson.decode((shell.run("curl -s -d @" .. common.sh_quote(dir .. "/form") .. " " ..
    common.sh_quote(e.url .. "/" .. e.tenant .. "/oauth2/v2.0/token")))).access_token
  assert(type(token) == "string", "no token for curl")

  -- The same requests as ours: the same URL, method and headers (Authorization, Accept, Accept-Encoding,
  -- User-Agent, a client-request-id GUID per request), one option group per request.
  local core = require "autopilot.core"
  local USER_AGENT = "lua-autopilot/" .. core._VERSION .. " libcurl/" .. core.curl_version
  local function guid()
    local r = math.random
    return string.format("%08x-%04x-4%03x-%04x-%012x", r(0, 0xffffffff), r(0, 0xffff), r(0, 0xfff),
      0x8000 | r(0, 0x3fff), r(0, 0xffffffffffff))
  end
  -- curl's cheapest form of the same job, for its instruction count: global options, one url line per request
  -- (no client-request-id, which would need a group of options per request)
  local function curl_config_minimal(path, n)
    local lines = { 'request = "POST"', 'header = "Authorization: Bearer ' .. token .. '"',
                    'header = "Accept: application/json"', 'user-agent = "' .. USER_AGENT .. '"', "compressed",
                    'write-out = "%{http_code}\\n"' }
    for i = 1, n do
      lines[#lines + 1] = 'url = "' .. client:_action_request(devices[i].id, "unassignUserFromDevice").url .. '"'
    end
    files.write(path, table.concat(lines, "\n") .. "\n", "600")
  end
  local function curl_config(path, n)
    local lines = {}
    for i = 1, n do
      if i > 1 then lines[#lines + 1] = "next" end
      lines[#lines + 1] = 'url = "' .. client:_action_request(devices[i].id, "unassignUserFromDevice").url .. '"'
      lines[#lines + 1] = 'request = "POST"'
      lines[#lines + 1] = 'header = "Authorization: Bearer ' .. token .. '"'
      lines[#lines + 1] = 'header = "Accept: application/json"'
      lines[#lines + 1] = 'header = "client-request-id: ' .. guid() .. '"'
      lines[#lines + 1] = 'user-agent = "' .. USER_AGENT .. '"'
      lines[#lines + 1] = "compressed"
      lines[#lines + 1] = 'write-out = "%{http_code}\\n"'
    end
    files.write(path, table.concat(lines, "\n") .. "\n", "600")
  end
  curl_config(dir .. "/all.cfg", N)

  local function run_curl()
    local t0 = common.now()
    local out = assert(io.popen(string.format(
      "curl -s --no-progress-meter --parallel --parallel-max %d -K %s 2>/dev/null", CONCURRENCY,
      common.sh_quote(dir .. "/all.cfg"))))
    local ok = 0
    for line in out:lines() do
      if line == "204" then ok = ok + 1 end
    end
    out:close()
    return common.now() - t0, ok
  end

  local function run_ours()
    local t0 = common.now()
    local report = assert(client:unassign_users(devices, { concurrency = CONCURRENCY, limit = false, force = true,
      progress = false }))
    return common.now() - t0, report.succeeded
  end

  local best_ours, best_curl = math.huge, math.huge
  for round = 1, ROUNDS do
    local t, ok = run_ours()
    common.say("round %d: ours %d/%d in %.2f s (%.0f/s)", round, ok, N, t, N / t)
    assert(ok == N, "our run failed some devices")
    best_ours = math.min(best_ours, t)
    t, ok = run_curl()
    common.say("round %d: curl %d/%d in %.2f s (%.0f/s)", round, ok, N, t, N / t)
    assert(ok == N, "curl failed some requests")
    best_curl = math.min(best_curl, t)
  end
  local ratio = best_curl / best_ours
  common.result("3 raw overhead", string.format("our rate / curl's (%.0f/s vs %.0f/s)", N / best_ours, N / best_curl),
    ratio, ">= 0.9", ratio >= 0.9)

  if os.getenv("BENCH_CALLGRIND") ~= "0" and os.execute("command -v valgrind >/dev/null") == true then
    -- the client side of our run as a script of its own, for valgrind
    local ids = {}
    for i = 1, LARGE do ids[i] = devices[i].id end
    files.write(dir .. "/ids", table.concat(ids, "\n") .. "\n", "600")
    local script = [[
local autopilot = require "autopilot"
local n = tonumber(arg[1])
local client = assert(autopilot.connect { tenant = os.getenv("EMU_TENANT"), client_id = os.getenv("EMU_CLIENT_ID"),
  client_secret = os.getenv("EMU_CLIENT_SECRET"), graph_url = os.getenv("EMU_URL"), login_url = os.getenv("EMU_URL") })
local devices = {}
for id in io.lines(arg[2]) do
  if #devices < n then devices[#devices + 1] = { id = id } end
end
local report = assert(client:unassign_users(devices, { concurrency = 32, limit = false, force = true,
  progress = false }))
assert(report.succeeded == n)
]]
    files.write(dir .. "/client.lua", script, "600")
    local env = string.format("EMU_URL=%s EMU_TENANT=%s EMU_CLIENT_ID=%s EMU_CLIENT_SECRET=%s LUA_PATH=%s LUA_CPATH=%s",
      common.sh_quote(e.url), common.sh_quote(e.tenant), common.sh_quote(e.client_id), common.sh_quote(e.client_secret),
      common.sh_quote(package.path), common.sh_quote(package.cpath))
    local function instructions(cmd, prefix)
      local out = assert(io.popen((prefix or "") .. " valgrind --tool=callgrind --callgrind-out-file=/dev/null " .. cmd
        .. " 2>&1 >/dev/null"))
      local text = out:read("a")
      out:close()
      local n = text:match("Collected%s*:%s*(%d+)")
      assert(n, "callgrind gave no count: " .. text:sub(1, 400))
      return tonumber(n)
    end
    local function ours(n)
      return instructions(string.format("lua5.4 %s %d %s", common.sh_quote(dir .. "/client.lua"), n,
        common.sh_quote(dir .. "/ids")), env)
    end
    local function curls(n, config)
      config(dir .. "/n.cfg", n)
      return instructions(string.format("curl -s --no-progress-meter --parallel --parallel-max 32 -K %s",
        common.sh_quote(dir .. "/n.cfg")))
    end
    local per_ours = (ours(LARGE) - ours(SMALL)) / (LARGE - SMALL)
    local per_curl = (curls(LARGE, curl_config) - curls(SMALL, curl_config)) / (LARGE - SMALL)
    local per_min = (curls(LARGE, curl_config_minimal) - curls(SMALL, curl_config_minimal)) / (LARGE - SMALL)
    common.say("instructions per request: ours %.0f, curl %.0f (same requests), %.0f (minimal config)", per_ours,
      per_curl, per_min)
    common.result("3 raw overhead", "instructions per request, ours (callgrind)", string.format("%.0f", per_ours))
    common.result("3 raw overhead", "instructions per request, curl, same requests (callgrind)",
      string.format("%.0f", per_curl))
    common.result("3 raw overhead", "instructions per request, curl, minimal config (callgrind)",
      string.format("%.0f", per_min))
    common.result("3 raw overhead", "our instructions / curl's (same requests)", per_ours / per_curl)
    common.result("3 raw overhead", "our instructions / curl's (minimal config)", per_ours / per_min)
  end

  client:close()
end

local ok, err = xpcall(main, debug.traceback)
e.stop()
common.cleanup(dir)
if not ok then error(err, 0) end
