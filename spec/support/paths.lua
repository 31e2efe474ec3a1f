--- Module search paths for child lua5.4 processes that may run in another directory.
local M = {}

local cwd = os.getenv("PWD") or "."

--- A search path with every relative entry made absolute against the spec run's working directory.
-- @tparam string path e.g. package.path
-- @treturn string
function M.absolute(path)
  return (path:gsub("[^;]+", function(entry)
    if entry:sub(1, 1) == "/" then return entry end
    return cwd .. "/" .. entry:gsub("^%./", "")
  end))
end

--- `LUA_PATH=... LUA_CPATH=...` for a shell command line, absolute.
-- @treturn string
function M.env()
  local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  return "LUA_PATH=" .. q(M.absolute(package.path)) .. " LUA_CPATH=" .. q(M.absolute(package.cpath))
end

return M
