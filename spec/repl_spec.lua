-- autopilot.repl: what the API's values print as at the REPL, and help(); the real client against the
-- emulator, plus a REPL session (`lua5.4 -i`) fed on its standard input.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local repl = require "autopilot.repl"
local tenant = require "tenant"
local shell = require "shell"
local paths = require "paths"

describe("autopilot.repl", function()
  local emu, client

  before_each(function()
    emu = assert(emulator.start { devices = 30, seed = 9 })
    client = tenant.connect(emu)
  end)

  after_each(function()
    client:close()
    emu:stop()
  end)

  it("prints token_info with the expiry as an ISO date and from now, never the token or secret", function()
    local before = tostring(client:token_info())
    assert.matches("^autopilot.TokenInfo client_secret, cloud custom, tenant ", before)
    assert.matches("no token yet", before, 1, true)
    assert(client:list_devices { top = 1 })
    local info = client:token_info()
    assert.are.equal("autopilot.TokenInfo", getmetatable(info).__name)
    local s = tostring(info)
    assert.matches("expires: %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ %(in %d+ min%)", s)
    assert.matches("roles: ", s, 1, true)
    assert.is_nil(s:find(emu.client_secret, 1, true))
    assert.is_nil(s:find("eyJ", 1, true)) -- no JWT
    assert.is_number(info.expires_at) -- still a plain table with its fields
  end)

  it("prints stats as traffic and pacing", function()
    client:close()
    client = tenant.connect(emu, { limit = { writes = 100, seconds = 20 } })
    assert(client:list_devices { top = 2 })
    local st = client:stats()
    assert.are.equal("autopilot.Stats", getmetatable(st).__name)
    local s = tostring(st)
    assert.matches("^autopilot.Stats %d+ requests, 0 retries, 0 throttled %(429%), 0.0 s paused, 1 tokens fetched", s)
    assert.matches("pacing: limit 5.00 writes/s", s, 1, true)
    assert.is_number(st.requests)
  end)

  it("prints a device list as a short table of its first rows", function()
    local list = assert(client:list_devices())
    assert.are.equal(30, #list)
    local s = tostring(list)
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("autopilot.DeviceList 30 devices", lines[1])
    assert.matches("^  id%s+serialNumber%s+user%s+groupTag$", lines[2])
    assert.are.equal(2 + repl.LIST_ROWS + 1, #lines)
    assert.matches(list[1].id, lines[3], 1, true)
    assert.matches(list[1].serialNumber, lines[3], 1, true)
    assert.are.equal("  ... 20 more", lines[#lines])
    local one = tostring(assert(client:list_devices { top = 1 }))
    assert.are.equal("autopilot.DeviceList 1 device", one:match("^[^\n]+"))
    assert.are.equal("autopilot.DeviceList 0 devices", tostring(assert(client:list_devices { serial = "NO-SUCH" })))
  end)

  it("prints devices, clients and bulk reports on one line", function()
    local d = assert(client:list_devices { top = 1 })[1]
    assert.are.equal(1, tostring(d):find("autopilot.Device " .. d.id, 1, true))
    assert.matches("^autopilot.Client %(client_secret", tostring(client))
    local report = assert(client:unassign_users({ d.id }, { dry_run = true, force = true, progress = false }))
    assert.matches("^autopilot bulk %(dry run%): 1 to unassign", tostring(report))
    assert.are.equal("autopilot.bulk.Report", getmetatable(report).__name)
  end)

  it("lists every public function in help(), from the one table", function()
    local mod, cli = autopilot.help(), client:help()
    for name, f in pairs(autopilot) do
      if type(f) == "function" and not name:find("^_") then
        assert.matches("autopilot." .. name .. "(", mod, 1, true)
      end
    end
    for name, f in pairs(autopilot.Client) do
      if type(f) == "function" and not name:find("^_") then
        assert.matches("client:" .. name .. "(", cli, 1, true)
      end
    end
    -- one line per function, each with a summary
    for line in cli:gmatch("\n([^\n]+)") do assert.matches("^  client:[%w_]+%(.-%)%s+%S", line) end
    -- entries whose function is missing are left out, not listed
    for _, e in ipairs(repl.FUNCTIONS.client) do
      if not autopilot.Client[e[1]] then assert.is_nil(cli:find("client:" .. e[1] .. "(", 1, true)) end
    end
  end)

  it("formats times relative to now", function()
    assert.are.equal("in 59 min", repl.relative(1000 + 59 * 60 + 20, 1000))
    assert.are.equal("in 2 h 05 min", repl.relative(1000 + 7500, 1000))
    assert.are.equal("in 40 s", repl.relative(1040, 1000))
    assert.are.equal("3 min ago", repl.relative(1000, 1180))
    assert.are.equal("1970-01-01T00:16:40Z", repl.iso(1000))
    assert.are.equal("-", repl.iso(nil))
  end)

  it("prints readably in a real lua5.4 -i session", function()
    local script = table.concat({
      "autopilot = require 'autopilot'",
      "client = autopilot.connect{ tenant = os.getenv'T', client_id = os.getenv'C', client_secret = os.getenv'S', " ..
        "graph_url = os.getenv'U', login_url = os.getenv'U' }",
      "client:list_devices{ top = 3 }",
      "client:token_info()",
      "client:stats()",
      "client:help()",
    }, "\n") .. "\n"
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    -- the credentials come from the environment: the REPL echoes its input
    local out = shell.output(paths.env() .. " T=" .. emu.tenant .. " C=" .. emu.client_id .. " S=" ..
      shell.quote(emu.client_secret) .. " U=" .. emu.url .. " lua5.4 -i < " .. shell.quote(path))
    os.remove(path)
    assert.matches("autopilot.DeviceList 3 devices", out, 1, true)
    assert.matches("autopilot.TokenInfo client_secret", out, 1, true)
    assert.matches("autopilot.Stats ", out, 1, true)
    assert.matches("client:unassign_user(id [, opts])", out, 1, true)
    assert.is_nil(out:find("table: 0x", 1, true))
    assert.is_nil(out:find(emu.client_secret, 1, true))
  end)
end)
