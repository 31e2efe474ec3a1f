--- Files and temporary directories for the specs and benchmarks.
local shell = require "shell"

local M = {}

--- Reads a whole file.
-- @tparam string path
-- @treturn[1] string its contents
-- @return[2] nil when it cannot be opened
-- @treturn[2] string the reason
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

--- Reads a whole file that may not be there yet (a child process's output, say).
-- @tparam string path
-- @treturn string its contents, or "" while it cannot be opened
function M.text(path)
  return M.read(path) or ""
end

--- The device lines of a bulk journal (lines with an outcome; the header has none).
-- @tparam string path
-- @treturn integer how many, 0 while the journal does not exist
function M.journal_devices(path)
  local n = 0
  for line in M.text(path):gmatch("[^\n]+") do
    if line:find('"outcome"', 1, true) then n = n + 1 end
  end
  return n
end

--- Reads a whole file that must be there.
-- @tparam string path
-- @treturn string its contents; raises when it cannot be opened
function M.slurp(path)
  return (assert(M.read(path)))
end

--- Writes a whole file (replacing it), raising when it cannot.
-- @tparam string path
-- @tparam string s the contents
-- @tparam[opt] string mode e.g. "600", applied with chmod afterwards
function M.write(path, s, mode)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  if mode then shell.check("chmod " .. mode .. " " .. shell.quote(path)) end
end

--- A new empty directory of its own (mode 0700) under the temporary directory, raising when it cannot.
-- @treturn string its absolute path
function M.tempdir()
  local d = os.tmpname()
  os.remove(d)
  shell.check("mkdir -m 700 " .. shell.quote(d))
  return d
end

--- Removes a temporary directory and everything in it; anything outside /tmp/ is left alone.
-- @tparam[opt] string dir nil does nothing
function M.remove(dir)
  if dir and dir:find("^/tmp/") then os.execute("rm -rf " .. shell.quote(dir)) end
end

return M
