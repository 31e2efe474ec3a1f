--- `bin/autopilot-emulator` as a child process of a spec: started in the background, its printed lines
-- read once it is ready, stopped with a signal.
local files = require "files"
local shell = require "shell"

local q, slurp = shell.quote, files.read

local M = {}

-- The CLI finds the modules this process uses (build-asan/ under --asan, with ASan still preloaded).
M.CLI = "LUA_PATH='spec/support/?.lua;;' LUA_CPATH=" .. q(package.cpath) .. " lua5.4 bin/autopilot-emulator"

--- Starts the CLI in the background and waits until it printed `ready` (or exited).
-- @tparam string args the command line's arguments (shell text)
-- @tparam[opt] string ready a Lua pattern of stdout that means started (default: the client_secret line)
-- @treturn table `{ dir, pid, lines }`: a scratch folder, the process id, stdout's lines so far
function M.spawn(args, ready)
  ready = ready or "client_secret: [^\n]*\n"
  local d = files.tempdir()
  local inner = ("%s %s >%s 2>%s & pid=$!; echo $pid >%s; wait $pid; echo $? >%s"):format(M.CLI, args,
    q(d .. "/out"), q(d .. "/err"), q(d .. "/pid"), q(d .. "/rc"))
  os.execute("(" .. inner .. ") >/dev/null 2>&1 &")
  local p = { dir = d }
  for _ = 1, 400 do
    local out = slurp(d .. "/out") or ""
    if out:find(ready) or (slurp(d .. "/rc") or ""):match("^%d") then break end
    os.execute("sleep 0.05")
  end
  p.pid = tonumber((slurp(d .. "/pid") or ""):match("^%d+"))
  p.lines = {}
  for line in (slurp(d .. "/out") or ""):gmatch("[^\n]+") do p.lines[#p.lines + 1] = line end
  return p
end

--- Signals the child (if `signal`), waits for it to exit and removes its folder.
-- @tparam table p from `spawn`
-- @tparam[opt] string signal e.g. "TERM"
-- @treturn integer|nil its exit code
-- @treturn string its stderr
function M.finish(p, signal)
  if signal and p.pid then os.execute("kill -" .. signal .. " " .. p.pid) end
  local rc
  for _ = 1, 400 do
    rc = (slurp(p.dir .. "/rc") or ""):match("^%d+") -- the file can exist before its digits do
    if rc then break end
    os.execute("sleep 0.05")
  end
  local err = slurp(p.dir .. "/err")
  files.remove(p.dir)
  return tonumber(rc), err
end

return M
