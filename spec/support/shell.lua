--- Shell commands for the specs and benchmarks: quoting, running, checking.
-- Nothing here touches LD_PRELOAD: `scripts/busted.sh --asan` puts shims first on PATH that drop the
-- sanitizer runtime for the tools that misbehave under it (curl, openssl, node, npm, wrk).
local M = {}

--- Quotes a value as one shell word.
-- @param s a string (or anything `tostring` accepts)
-- @treturn string `'...'` with every `'` escaped
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Runs a command and reads its standard output (redirect stderr in `cmd` to see it).
-- @tparam string cmd a shell command line
-- @treturn string its standard output
-- @treturn integer its exit code (128 + the signal number when a signal ended it)
function M.run(cmd)
  local f = assert(io.popen(cmd, "r"))
  local out = f:read("a")
  local _, how, code = f:close()
  return out, how == "exit" and code or 128 + code
end

--- Runs a command with its output thrown away.
-- @tparam string cmd
-- @treturn boolean whether it exited 0
function M.ok(cmd)
  return os.execute(cmd .. " >/dev/null 2>&1") == true
end

--- Runs a command with its output thrown away, raising when it fails.
-- @tparam string cmd
-- @treturn true; raises `"command failed: <cmd>"` otherwise
function M.check(cmd)
  return assert(M.ok(cmd), "command failed: " .. cmd)
end

--- Runs a command and returns its standard output and error, raising when it fails.
-- @tparam string cmd
-- @treturn string its standard output and error together; raises with the code, command and output otherwise
function M.output(cmd)
  local out, code = M.run(cmd .. " 2>&1")
  if code ~= 0 then error("command failed (" .. code .. "): " .. cmd .. "\n" .. out, 2) end
  return out
end

return M
