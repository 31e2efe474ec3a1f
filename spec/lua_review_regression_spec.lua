-- Regressions found in the review of the Lua side, each against the real emulator over loopback.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

describe("review regressions", function()
  local emu, client

  setup(function()
    emu = assert(emulator.start { devices = 300, seed = 11 })
    client = tenant.connect(emu)
  end)

  teardown(function()
    client:close()
    emu:stop()
  end)

  -- A keyed lookup the service refuses (a hyphen in contains()) falls back to a scan without the keyed
  -- clauses; the caller's raw filter must stay, or a bulk run would take in devices the filter excluded.
  it("keeps a raw filter when a keyed lookup falls back to a scan", function()
    local d = tenant.find_device(emu, function(x) return x.groupTag:find("-", 1, true) ~= nil end)
    local all = assert(client:list_devices { group_tag = d.groupTag })
    assert.is_true(#all > 0)
    local none = assert(client:list_devices { group_tag = d.groupTag, filter = "startswith(model,'NoSuchModel')" })
    assert.same({}, none)
    local some = assert(client:list_devices { group_tag = d.groupTag,
                                               filter = "startswith(model,'" .. d.model:sub(1, 3) .. "')" })
    assert.is_true(#some > 0)
    for _, x in ipairs(some) do
      assert.equal(d.groupTag:lower(), x.groupTag:lower())
      assert.equal(d.model:sub(1, 3):lower(), x.model:sub(1, 3):lower())
    end
  end)

  it("reports a raw filter the service refuses instead of dropping it", function()
    local d = tenant.find_device(emu, function(x) return x.groupTag ~= "" end)
    local list, err = client:list_devices { group_tag = d.groupTag, filter = "model eq 'NoSuchModel'" }
    assert.is_nil(list)
    assert.equal(400, err.status)
    local report, rerr = client:unassign_users({ group_tag = d.groupTag, filter = "model eq 'NoSuchModel'" },
      { dry_run = true, progress = false })
    assert.is_nil(report)
    assert.equal(400, rerr.status)
  end)

  -- A certificate given as base64 (a Key Vault PFX secret) is not PEM, so it is tried as a file name; the
  -- error must not carry it, since io.open's message starts with the name.
  it("never puts certificate text that is not PEM into the error", function()
    local autopilot = require "autopilot"
    local secret = "MIIKPAIBAzCCCfgGCSqGSIb3DQEHAaCCCekEggnlMIIJ4TCCBgoGCSqGSIb3DQEHAaCCBfsEggX3MIIF8zCCBe8G"
    local before = emu:state { devices = false, log = false }.requests
    for _, cert in ipairs { { cert = secret }, { cert = secret, key = secret }, { cert = secret .. "\n" .. secret } } do
      local c, err = autopilot.connect { tenant = emu.tenant, client_id = emu.client_id, graph_url = emu.url,
                                         login_url = emu.url, certificate = cert }
      assert.is_nil(c)
      assert.equal("InvalidConfiguration", err.code)
      assert.matches("cannot read", tostring(err), 1, true)
      assert.falsy(tostring(err):find(secret:sub(1, 24), 1, true), tostring(err))
    end
    assert.equal(before, emu:state { devices = false, log = false }.requests)
  end)

  -- A directory given as the journal opens, but reading it fails: that used to raise from the middle of
  -- unassign_users instead of returning the documented "JournalUnreadable" error.
  it("returns a journal that cannot be read as an error value, sending no write", function()
    local files = require "files"
    local dir = files.tempdir()
    local d = tenant.find_device(emu)
    local before = emu:state { devices = false, log = false }.requests
    local ok, report, err = pcall(client.unassign_users, client, { d.id }, { journal = dir, progress = false })
    files.remove(dir)
    assert.is_true(ok, tostring(report))
    assert.is_nil(report)
    assert.equal("JournalUnreadable", err.code)
    assert.matches("Is a directory", err.message, 1, true)
    assert.equal(before, emu:state { devices = false, log = false }.requests)
  end)

  -- A next link on another scheme or host would have received the bearer token.
  it("does not follow an @odata.nextLink that leaves the client's Graph URL", function()
    local hostile <close> = assert(emulator.start { app = "foreign_link_app" })
    local c <close> = assert(require("autopilot").connect { access_token = "t0k3n", graph_url = hostile.url })
    local list, err = c:list_devices()
    assert.is_nil(list)
    assert.equal("InvalidResponse", err.code)
    assert.matches("nextLink leaves", err.message)
    assert.equal(1, hostile:state().requests)   -- the first page only
  end)
end)

-- A serial number that two devices share up to surrounding white space ("SN1" and "SN1 ") was ambiguous when
-- the plan listed the tenant (more than 10 serials) but picked one device when it looked the serial up
-- (10 or fewer): the same CSV row could unassign a guessed device.
describe("review regressions: serials that differ only in surrounding white space", function()
  local files = require "files"
  local emu, client, dir

  setup(function()
    dir = files.tempdir()
    files.write(dir .. "/devices.json", '[{"serialNumber":"SN1","userPrincipalName":"a@contoso.com"},'
      .. '{"serialNumber":"SN1 ","userPrincipalName":"b@contoso.com"},'
      .. '{"serialNumber":"sn1","userPrincipalName":"c@contoso.com"},'
      .. '{"serialNumber":"SN2","userPrincipalName":"d@contoso.com"}]')
    emu = assert(emulator.start { devices_file = dir .. "/devices.json", seed = 1 })
    client = tenant.connect(emu)
  end)

  teardown(function()
    client:close()
    emu:stop()
    files.remove(dir)
  end)

  it("are ambiguous whether the plan looks them up or lists the tenant", function()
    local many = { "SN1" }
    for i = 1, 10 do many[#many + 1] = "NOSUCH" .. i end
    for _, serials in ipairs { { "SN1" }, many } do
      local report = assert(client:unassign_users({ serials = serials }, { dry_run = true, progress = false }))
      local r = report.results[1]
      assert.equal("ambiguous", r.outcome, #serials .. " serials")
      assert.equal(2, #r.ids)
    end
    local report = assert(client:unassign_users({ serials = { "SN2" } }, { dry_run = true, progress = false }))
    assert.equal("would_unassign", report.results[1].outcome)
    assert.equal(2, #assert(client:list_devices { serial = "SN1" }))
  end)
end)
