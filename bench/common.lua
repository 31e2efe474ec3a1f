--- Shared helpers of the benchmarks: clocks, emulators in this process or another, result lines.
--
-- Every benchmark prints its figures as `RESULT|<benchmark>|<figure>|<value>|<target>|<verdict>` lines on
-- stdout (scripts/bench.sh turns them into bench/RESULTS.md) and its commentary on stderr.
local host = require "autopilot.emulator.host"
local emulator = require "autopilot.emulator"
local autopilot = require "autopilot"

local M = {}

--- Monotonic seconds.
M.now = host.clock

--- Print one result line.
-- @tparam string bench the benchmark's name
-- @tparam string figure what was measured
-- @param value the figure (a number is shown with 3 significant decimals)
-- @tparam[opt] string target e.g. "<= 1.05"
-- @tparam[opt] boolean pass whether the target was met (nil: no target)
function M.result(bench, figure, value, target, pass)
  if type(value) == "number" then value = string.format("%.3f", value):gsub("%.?0+$", "") end
  local verdict = pass == nil and "" or (pass and "met" or "NOT met")
  io.stdout:write(table.concat({ "RESULT", bench, figure, tostring(value), target or "", verdict }, "|"), "\n")
  io.stdout:flush()
end

--- Commentary on stderr.
function M.say(fmt, ...)
  io.stderr:write(string.format(fmt, ...), "\n")
end

--- An emulator in this process and a client connected to it, with a token already fetched.
-- @tparam table cfg emulator config
-- @tparam[opt] table copts extra connect options
-- @treturn table emu, table client
function M.start(cfg, copts)
  local emu = assert(emulator.start(cfg))
  local opts = { tenant = emu.tenant, client_id = emu.client_id, client_secret = emu.client_secret,
                 graph_url = emu.url, login_url = emu.url }
  for k, v in pairs(copts or {}) do opts[k] = v end
  local client = assert(autopilot.connect(opts))
  return emu, client
end

--- The emulator's devices as device tables (read from its state: no request).
function M.devices(emu)
  return emu:state({ log = false }).devices
end

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.sh_quote = sh_quote

--- Sleep (benchmarks only: a fork per call).
function M.sleep(s)
  os.execute(string.format("sleep %.3f", s))
end

--- A temporary directory, removed by `M.cleanup`.
function M.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -m 700 -p " .. sh_quote(d)))
  return d
end

function M.cleanup(dir)
  os.execute("rm -rf " .. sh_quote(dir))
end

--- Read a whole file.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- An emulator in a process of its own (bin/autopilot-emulator), so that this process measures only the
-- client. Returns `{ url, tenant, client_id, client_secret, pid, stop = function }`.
-- @tparam string args command-line options, e.g. "--devices 20000"
function M.spawn_emulator(args)
  local dir = M.tmpdir()
  local cmd = string.format("lua5.4 bin/autopilot-emulator --port 0 %s >%s 2>%s & echo $!", args,
    sh_quote(dir .. "/out"), sh_quote(dir .. "/err"))
  local p = assert(io.popen(cmd))
  local pid = assert(tonumber(p:read("l")), "no pid")
  p:close()
  local lines
  for _ = 1, 1200 do -- generating 100,000 devices takes a while
    local text = M.read(dir .. "/out") or ""
    lines = {}
    for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
    if #lines >= 4 then break end
    if os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= true then
      error("the emulator exited: " .. (M.read(dir .. "/err") or ""))
    end
    M.sleep(0.1)
  end
  assert(#lines >= 4, "the emulator did not start")
  local e = { url = lines[1], pid = pid, dir = dir }
  for i = 2, #lines do
    local k, v = lines[i]:match("^(%w[%w_]*): (.*)$")
    if k then e[k] = v end
  end
  function e.stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if os.execute("kill -0 " .. pid .. " 2>/dev/null") ~= true then break end
      M.sleep(0.05)
    end
    M.cleanup(dir)
  end
  return e
end

--- Connect to a spawned emulator.
function M.connect(e, copts)
  local opts = { tenant = e.tenant, client_id = e.client_id, client_secret = e.client_secret,
                 graph_url = e.url, login_url = e.url }
  for k, v in pairs(copts or {}) do opts[k] = v end
  return assert(autopilot.connect(opts))
end

--- Peak resident set size of this process, in kB (Linux: VmHWM in /proc/self/status).
function M.peak_rss_kb()
  local s = M.read("/proc/self/status") or ""
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

return M
