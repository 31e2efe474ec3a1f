--- What this process holds of the machine, for soak runs: resident memory and open descriptors (Linux /proc).
-- Both are read after a full garbage collection, so Lua garbage not yet collected is not counted as a leak.
local M = {}

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- This process's id (the first field of /proc/self/stat: Lua has no getpid).
-- @treturn integer
function M.pid()
  return math.tointeger(tonumber((read("/proc/self/stat") or ""):match("^(%d+)")))
end

--- Resident set size now, in kB (VmRSS), or nil when /proc is unreadable.
-- @treturn integer|nil
function M.rss_kb()
  return math.tointeger(tonumber((read("/proc/self/status") or ""):match("VmRSS:%s*(%d+)")))
end

--- Open descriptors now: the entries of /proc/PID/fd, listed by `ls` (Lua cannot read a directory) into a
-- file while this process waits for it. Not through `io.popen`: its pipe's other end is still open here for
-- a moment after `ls` starts, so `ls` would sometimes count one descriptor more.
-- @treturn integer|nil the count, or nil when it cannot be listed
function M.open_fds()
  local path = os.tmpname()
  local n
  if os.execute("ls -1 /proc/" .. M.pid() .. "/fd >" .. path .. " 2>/dev/null") == true then
    n = select(2, (read(path) or ""):gsub("\n", ""))
  end
  os.remove(path)
  return n ~= 0 and n or nil
end

--- One sample: both figures after a full collection (twice: finalizers run by the first free more).
-- @treturn table `{ rss_kb = integer, fds = integer, lua_kb = number }` (lua_kb: the Lua heap in use)
function M.sample()
  collectgarbage()
  collectgarbage()
  return { rss_kb = M.rss_kb(), fds = M.open_fds(), lua_kb = collectgarbage("count") }
end

return M
