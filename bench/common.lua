--- Shared helpers of the benchmarks: clocks, emulators in this process or another, result lines.
--
-- Every benchmark prints its figures as `RESULT|<benchmark>|<figure>|<value>|<target>|<verdict>` lines on
-- stdout (scripts/bench.sh turns them into bench/RESULTS.md) and its commentary on stderr.
-- The spec helpers (spec/support) serve here too: benchmarks run from the repository root.
package.path = "spec/support/?.lua;" .. package.path
local host = require "autopilot.emulator.host"
local emulator = require "autopilot.emulator"
local files = require "files"
local shell = require "shell"
local tenant = require "tenant"

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
  return emu, tenant.connect(emu, copts)
end

--- The emulator's devices as device tables (read from its state: no request).
-- @function devices
M.devices = tenant.devices

--- Quotes a value as one shell word.
-- @function sh_quote
M.sh_quote = shell.quote
local sh_quote = shell.quote

--- Sleep (benchmarks only: a fork per call).
function M.sleep(s)
  os.execute(string.format("sleep %.3f", s))
end

--- A temporary directory (mode 0700), removed by `M.cleanup`.
-- @function tmpdir
M.tmpdir = files.tempdir

--- Removes a temporary directory.
-- @function cleanup
M.cleanup = files.remove

--- Read a whole file: its contents, or nil when it cannot be opened.
-- @function read
M.read = files.read

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
-- @function connect
M.connect = tenant.connect

--- Peak resident set size of this process, in kB (Linux: VmHWM in /proc/self/status).
function M.peak_rss_kb()
  local s = M.read("/proc/self/status") or ""
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

return M
