-- autopilot login / logout: a device code sign-in against the emulated identity platform, kept in the token
-- cache so that later commands sign in silently; logout forgets it. Child processes, as an operator runs them.
local emulator = require "autopilot.emulator"
local files = require "files"
local shell = require "shell"
local child = require "cli_child"
local json = require "cjson"

local q = shell.quote

describe("bin/autopilot login and logout", function()
  local emu, dir, env

  setup(function()
    emu = assert(emulator.start { devices = 4, seed = 5, device_code = { approve_after = 0, interval = 1 } })
    dir = files.tempdir()
    -- the app's id and tenant, no secret: the sign-in is the operator's
    env = "AZURE_TENANT_ID=" .. q(emu.tenant) .. " AZURE_CLIENT_ID=" .. q(emu.client_id)
  end)

  teardown(function()
    emu:stop()
    files.remove(dir)
  end)

  local function cli(args) return child.run(emu, dir, args, { env = env }) end
  local function identity() return emu:state { devices = false, log = false }.identity end

  it("signs in with a device code, printing the URL and the code, and keeps the sign-in for later commands",
    function()
    local out, err, status = cli("login")
    assert.equal(0, status, err)
    local polls = identity().device_code.polls
    assert.equal("success", polls[#polls].result)
    assert.matches("To sign in, open https://microsoft.com/devicelogin and enter the code %u+ %(valid 15 minutes%)",
      out)
    assert.matches("signed in as admin@contoso.onmicrosoft.com; kept in " .. dir .. "/tokens.json", out, 1, true)
    local cache = dir .. "/tokens.json"
    assert.equal("600", shell.output("stat -c %a " .. q(cache)):match("%d+"))
    local tokens = {}
    for _, e in pairs(json.decode(files.slurp(cache)).entries) do tokens[#tokens + 1] = e.refresh_token end
    assert.equal(1, #tokens)
    assert.not_matches(tokens[1], out .. err, 1, true)

    -- later: no secret in the environment, no new device code, the cached refresh token signs in
    local before = #identity().device_code.polls
    out, err, status = cli("list --top 2")
    assert.equal(0, status, err)
    assert.matches("2 device(s)", err, 1, true)
    assert.equal(before, #identity().device_code.polls)
    assert.not_matches(tokens[1], out .. err, 1, true)
  end)

  it("forgets the sign-in with logout; then commands say how to sign in (exit 1)", function()
    if not files.read(dir .. "/tokens.json") then assert(select(3, cli("login")) == 0) end
    local out, err, status = cli("logout")
    assert.equal(0, status, err)
    assert.equal("signed out: deleted " .. dir .. "/tokens.json\n", out)
    assert.is_nil(files.read(dir .. "/tokens.json"))
    local _
    _, err, status = cli("list")
    assert.equal(1, status)
    assert.matches("no credentials: .*run 'autopilot login'", err)
    out, _, status = cli("logout")
    assert.equal(0, status)
    assert.equal("not signed in: no " .. dir .. "/tokens.json\n", out)
    _, err, status = cli("login now")
    assert.equal(2, status)
    assert.matches("login takes no arguments", err, 1, true)
  end)
end)
