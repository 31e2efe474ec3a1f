-- Delegated sign-in with a device code against the emulated identity platform: the caller's function
-- gets Microsoft's message, the client polls at the announced interval (times recorded by the emulator),
-- honours slow_down, and reports declined, expired and unknown codes as error values.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local fx = require "auth_fixtures"

local function start(device_code)
  return assert(emulator.start { devices = 2, seed = 9, device_code = device_code })
end

local function connect(emu, on_info, extra)
  local o = fx.opts(emu, { client_id = emu.client_id, device_code = on_info })
  for k, v in pairs(extra or {}) do o[k] = v or nil end
  return assert(autopilot.connect(o))
end

local function identity(emu) return emu:state { devices = false, log = false }.identity end

describe("device code sign-in", function()
  it("signs in once approved after several polls, polling at the interval", function()
    local emu <close> = start { approve_after = 3, interval = 1 }
    local seen = {}
    local client = connect(emu, function(info) seen[#seen + 1] = info end)
    local list = assert(client:list_devices())
    assert.equal(2, #list)
    assert.equal(1, #seen)
    local info = seen[1]
    assert.matches("^%u+$", info.user_code)
    assert.equal("https://microsoft.com/devicelogin", info.verification_uri)
    assert.truthy(info.message:find(info.user_code, 1, true))
    assert.equal(900, info.expires_in)
    local polls = identity(emu).device_code.polls
    assert.equal(4, #polls)
    for i = 1, 3 do assert.equal("authorization_pending", polls[i].result) end
    assert.equal("success", polls[4].result)
    for i = 2, 4 do
      assert.is_true(polls[i].time - polls[i - 1].time >= 0.9, "poll " .. i .. " came too early")
    end
    local ti = client:token_info()
    assert.equal("device_code", ti.flow)
    assert.equal("admin@contoso.onmicrosoft.com", ti.user)
    assert.same({ fx.WRITE }, ti.scopes)
    assert.is_true(ti.has_refresh_token)
    -- the next calls use the token: no second sign-in
    assert(client:list_devices())
    assert.equal(1, #seen)
    client:close()
  end)

  it("asks for the cloud's own Graph permission and offline_access, on the organizations endpoint", function()
    local emu <close> = start { approve_after = 0, interval = 1 }
    local client = connect(emu, function() end, { tenant = false })
    assert(client:list_devices())
    local ti = client:token_info()
    assert.equal("organizations", client.tenant)
    assert.equal(emu.tenant, ti.tenant)
    client:close()
  end)

  it("reports a declined sign-in", function()
    local emu <close> = start { approve_after = 1, decline = true, interval = 1 }
    local client = connect(emu, function() end)
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("authorization_declined", err.code)
    assert.truthy(err.hint and err.hint:find("declined", 1, true))
    assert.is_nil(emu:state { devices = false, log = false }.counters.list) -- nothing reached Graph
    client:close()
  end)

  it("polls before the code expires even when the service announces an absurd interval", function()
    -- regression: an interval of a billion seconds used to park the session until then
    local emu <close> = start { expires_in = 2, interval = 1e9 }
    local client = connect(emu, function() end)
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("expired_token", err.code)
    assert.is_true(#identity(emu).device_code.polls >= 1)
    client:close()
  end)

  it("reports a code that expired before anyone approved it", function()
    local emu <close> = start { expires_in = 2, interval = 1 }
    local client = connect(emu, function() end)
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("expired_token", err.code)
    assert.equal(70019, err.aadsts)
    assert.truthy(err.hint:find("sign in again", 1, true))
    local polls = identity(emu).device_code.polls
    assert.equal("expired_token", polls[#polls].result)
    client:close()
  end)

  it("waits 5 seconds more after slow_down", function()
    -- the service asks for slow_down although the client kept to the interval
    local emu <close> = start { approve_after = 0, interval = 1, slow_down = 1 }
    local client = connect(emu, function() end)
    assert(client:list_devices())
    local polls = identity(emu).device_code.polls
    assert.equal(2, #polls)
    assert.equal("slow_down", polls[1].result)
    assert.equal("success", polls[2].result)
    assert.is_true(polls[2].time - polls[1].time >= 5.5, "the poll after slow_down came too early")
    client:close()
  end)

  it("reports a device code the service does not know (bad_verification_code)", function()
    local emu <close> = start { approve_after = 0, interval = 1, bad_code = true }
    local client = connect(emu, function() end)
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("bad_verification_code", err.code)
    assert.equal(70018, err.aadsts)
    client:close()
  end)

  it("stops when the caller's function raises, sending nothing to Graph", function()
    local emu <close> = start { approve_after = 0, interval = 1 }
    local client = connect(emu, function() error("no terminal here", 0) end)
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("device_code_callback_failed", err.code)
    assert.truthy(err.message:find("no terminal here", 1, true))
    assert.equal(0, identity(emu).device_code.polls[1] and 1 or 0)
    client:close()
  end)
end)
