-- Managed identity: the App Service style (IDENTITY_ENDPOINT + IDENTITY_HEADER) and the IMDS style, always
-- pointed at the emulator on loopback (the real IMDS address is never contacted by these specs).
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local fx = require "auth_fixtures"
local shell = require "shell"
local q = shell.quote
local paths = require "paths"

local USER_ASSIGNED = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

describe("managed identity", function()
  local emu

  setup(function()
    emu = assert(emulator.start { devices = 2, seed = 5, managed_identity = {
      user_assigned = { { client_id = USER_ASSIGNED, roles = { fx.WRITE } } } } })
  end)

  teardown(function() if emu then emu:stop() end end)

  local function by_grant() return emu:state { devices = false, log = false }.identity.by_grant end

  it("gets an app-only token from an IMDS-style endpoint (Metadata: true)", function()
    local before = by_grant().imds or 0
    local client = assert(autopilot.connect { graph_url = emu.url,
      managed_identity = { endpoint = emu.url .. "/metadata/identity/oauth2/token" } })
    assert.equal(2, #assert(client:list_devices()))
    assert.equal(before + 1, by_grant().imds)
    local ti = client:token_info()
    assert.equal("managed_identity", ti.flow)
    assert.same({ fx.WRITE }, ti.roles)
    assert.equal(emu.tenant, ti.tenant)
    -- expires_on from the reply, not a default: within a minute of the token's own exp claim
    assert.is_true(math.abs(ti.expires_at - (os.time() + 3599)) < 60)
    client:close()
  end)

  it("uses IDENTITY_ENDPOINT + IDENTITY_HEADER with X-IDENTITY-HEADER, for a user-assigned identity", function()
    local before = by_grant().managed_identity or 0
    local client = assert(autopilot.connect { graph_url = emu.url, managed_identity = {
      endpoint = emu.url .. "/msi/token", header = "emulator-identity-header", client_id = USER_ASSIGNED } })
    assert(client:list_devices())
    assert.equal(before + 1, by_grant().managed_identity)
    assert.equal(USER_ASSIGNED, client:token_info().client_id)
    client:close()
  end)

  it("reads IDENTITY_ENDPOINT and IDENTITY_HEADER from the environment", function()
    local cmd = "IDENTITY_ENDPOINT=" .. q(emu.url .. "/msi/token")
      .. " IDENTITY_HEADER=emulator-identity-header " .. paths.env() .. " lua5.4 -e "
      .. q("local c = assert(require('autopilot').connect{ graph_url = '" .. emu.url
        .. "', managed_identity = true }) local l = assert(c:list_devices())"
        .. " io.write('OK ', #l, ' ', c:token_info().flow)")
    local out = shell.run(cmd .. " 2>&1")
    assert.equal("OK 2 managed_identity", out)
  end)

  it("reports a wrong identity header as an error value", function()
    local client = assert(autopilot.connect { graph_url = emu.url, managed_identity = {
      endpoint = emu.url .. "/msi/token", header = "not-the-header" } })
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal(401, err.status)
    assert.falsy(tostring(err):find("not-the-header", 1, true))
    client:close()
  end)

  it("refuses a malformed endpoint or client id before sending anything", function()
    local c1, e1 = autopilot.connect { graph_url = emu.url, managed_identity = { endpoint = "ftp://x" } }
    assert.is_nil(c1)
    assert.equal("InvalidConfiguration", e1.code)
    local c2, e2 = autopilot.connect { graph_url = emu.url, managed_identity = { client_id = "me" } }
    assert.is_nil(c2)
    assert.truthy(e2.message:find("GUID", 1, true))
  end)
end)
