--- Microsoft's npm packages for the SDK specs, installed once into a folder of their own under
-- $AUTOPILOT_SDK_DIR (default /tmp/lua-autopilot-sdk). A machine that cannot reach npm's registry (CI has
-- no network but Debian's mirror) gets the reason back, and the spec stays pending instead of failing.
local shell = require "shell"

local q, sh = shell.quote, shell.run

local M = {}

M.ROOT = os.getenv("AUTOPILOT_SDK_DIR") or "/tmp/lua-autopilot-sdk"

--- Installs `packages` into `ROOT/name` unless `probe` (a path under node_modules) is there already.
-- @tparam string name the folder's name under ROOT ("" for ROOT itself)
-- @tparam string packages npm package specs, space-separated
-- @tparam string probe e.g. "@azure/identity/package.json"
-- @treturn[1] string the folder
-- @treturn[2] nil
-- @treturn[2] string why not (no node, no registry)
function M.install(name, packages, probe)
  local have = select(2, sh("command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1")) == 0
  if not have then return nil, "node and npm are not installed" end
  local dir = name == "" and M.ROOT or (M.ROOT .. "/" .. name)
  if select(2, sh("mkdir -p " .. q(dir))) ~= 0 then return nil, "cannot create " .. dir end
  local f = io.open(dir .. "/node_modules/" .. probe)
  if f then
    f:close()
    return dir
  end
  -- one short probe first: without a registry, npm install would retry for minutes
  local _, reach = sh("timeout 20 npm ping --fetch-retries=0 --fetch-timeout=15000 >/dev/null 2>&1")
  if reach ~= 0 then return nil, "npm's registry cannot be reached" end
  local out, code = sh("cd " .. q(dir) .. " && (test -f package.json || echo '{\"private\":true}' > package.json)"
    .. " && timeout 300 npm install --no-audit --no-fund --loglevel=error " .. packages .. " 2>&1")
  if code ~= 0 then return nil, "npm install failed (registry unreachable?): " .. out:sub(1, 300) end
  return dir
end

return M
