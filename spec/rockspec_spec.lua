-- The two rockspecs list every module and C source of the tree, each in the right rock: a file added
-- without a rockspec line would be missing from an installed rock while every spec here still passes.
local function load_rockspec(path)
  local env = {}
  assert(loadfile(path, "t", env))()
  return env
end

local function lines(cmd)
  local out = {}
  local f = assert(io.popen(cmd))
  for l in f:lines() do out[#out + 1] = l end
  f:close()
  table.sort(out)
  return out
end

local function module_name(path)
  return (path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("rockspecs", function()
  local client = load_rockspec("lua-autopilot-scm-1.rockspec")
  local emulator = load_rockspec("lua-autopilot-emulator-scm-1.rockspec")

  it("list every Lua module, client and emulator apart", function()
    local want_client, want_emulator = {}, {}
    for _, path in ipairs(lines("find lua -name '*.lua'")) do
      local name = module_name(path)
      if name == "autopilot.emulator" or name:find("^autopilot%.emulator%.") then
        want_emulator[name] = path
      else
        want_client[name] = path
      end
    end
    local got_client, got_emulator = {}, {}
    for name, v in pairs(client.build.modules) do
      if type(v) == "string" then got_client[name] = v end
    end
    for name, v in pairs(emulator.build.modules) do
      if type(v) == "string" then got_emulator[name] = v end
    end
    assert.same(want_client, got_client)
    assert.same(want_emulator, got_emulator)
  end)

  it("build every C source into its module", function()
    local core_sources = client.build.modules["autopilot.core"].sources
    local host_sources = emulator.build.modules["autopilot.emulator.host"].sources
    table.sort(core_sources)
    table.sort(host_sources)
    assert.same(lines("ls src/*.c"), core_sources)
    -- the host: its own sources, and the few it shares with the core (which builds them too)
    local own, shared = {}, {}
    for _, f in ipairs(host_sources) do
      if f:find("^src/emulator/") then own[#own + 1] = f else shared[#shared + 1] = f end
    end
    assert.same(lines("ls src/emulator/*.c"), own)
    local core_set = {}
    for _, f in ipairs(core_sources) do core_set[f] = true end
    for _, f in ipairs(shared) do assert.is_true(core_set[f], f .. " is not a core source") end
  end)

  it("install the command-line tools", function()
    assert.same({ "autopilot" }, sorted_keys(client.build.install.bin))
    assert.same({ "autopilot-emulator" }, sorted_keys(emulator.build.install.bin))
  end)
end)
