-- The rocks install with luarocks (Lua dependencies from Debian, so --deps-mode=none) and load from
-- outside the repository. Packaging, not memory: skipped in the sanitizer and valgrind runs.
local shell = require "shell"

local q = shell.quote

-- A command's output and errors, and its exit code.
local function sh(cmd) return shell.run(cmd .. " 2>&1") end

describe("luarocks install", function()
  if os.getenv("AUTOPILOT_SANITIZED") then
    pending("packaging is checked in the plain run")
    return
  end
  local tree = os.tmpname()
  os.remove(tree)
  teardown(function() sh("rm -rf " .. q(tree)) end)

  for _, rock in ipairs { "lua-autopilot-scm-1.rockspec", "lua-autopilot-emulator-scm-1.rockspec" } do
    it("installs " .. rock, function()
      local out, code = sh("luarocks --lua-version=5.4 --tree " .. q(tree) .. " make --deps-mode=none " .. rock)
      assert(code == 0, out)
    end)
  end

  it("loads from outside the repository, and the installed tools run", function()
    local env = "cd / && LUA_PATH=" .. q(tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua;;")
      .. " LUA_CPATH=" .. q(tree .. "/lib/lua/5.4/?.so;;")
    local out, code = sh(env .. " lua5.4 -e " .. q([[
      local a = require "autopilot"
      local e = require "autopilot.emulator"
      local emu <close> = assert(e.start { devices = 3 })
      local c = assert(a.connect { tenant = emu.tenant, client_id = emu.client_id,
                                   client_secret = emu.client_secret, graph_url = emu.url, login_url = emu.url })
      print(a._VERSION, #assert(c:list_devices()), package.searchpath("autopilot.core", package.cpath))]]))
    assert(code == 0, out)
    assert.matches("^lua%-autopilot [%d.]+\t3\t" .. tree:gsub("%p", "%%%0") .. "/lib/lua/5.4/autopilot/core.so", out)
    out, code = sh(env .. " " .. q(tree .. "/bin/autopilot") .. " --help")
    assert(code == 0, out)
    assert.matches("usage: autopilot", out)
    out, code = sh(env .. " " .. q(tree .. "/bin/autopilot-emulator") .. " --help")
    assert(code == 0, out)
  end)
end)
