-- Client credentials with a certificate: the C core signs a fresh client assertion for every token
-- request, and the emulator verifies it against the certificate registered on the app (both algorithms).
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local fx = require "auth_fixtures"
local files = require "files"

describe("certificate credentials", function()
  local dir, c1, c2, emu
  local PASS = "pa55-Phrase!x"

  setup(function()
    dir = files.tempdir()
    c1 = fx.certificate(dir, "app-one", PASS)
    c2 = fx.certificate(dir, "unregistered")
    emu = assert(emulator.start { devices = 3, seed = 4, apps = {
      { client_id = fx.APP, certificate = c1.pem, roles = { fx.WRITE } } } })
  end)

  teardown(function()
    if emu then emu:stop() end
    files.remove(dir)
  end)

  local function auth_counts() return emu:state { devices = false, log = false }.identity.by_client_auth end

  for _, alg in ipairs { "PS256", "RS256" } do
    it("signs in with " .. alg .. ", verified by the emulator against the registered certificate", function()
      local before = auth_counts()[alg] or 0
      local client = assert(autopilot.connect(fx.opts(emu, { client_id = fx.APP,
        certificate = { cert = c1.crt, key = c1.key, alg = alg } })))
      local list = assert(client:list_devices())
      assert.equal(3, #list)
      assert.equal(before + 1, auth_counts()[alg])
      local info = client:token_info()
      assert.equal("certificate", info.flow)
      assert.equal(fx.APP, info.client_id)
      assert.same({ fx.WRITE }, info.roles)
      assert.is_true(info.expires_at > os.time())
      client:close()
    end)
  end

  it("makes a fresh assertion for every token request (no replayed jti)", function()
    emu:configure { token_lifetime = 1 }
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = fx.APP,
      certificate = { cert = c1.pem, key = c1.key } })))
    assert(client:list_devices())
    -- each token dies at Graph when the emulated clock jumps: the client fetches another, signing anew
    emu:configure { advance = 5 }
    assert(client:list_devices())
    emu:configure { advance = 5 }
    assert(client:list_devices())
    emu:configure { token_lifetime = 3599 }
    assert.is_true(client:stats().tokens_fetched >= 2)
    for _, e in ipairs(emu:state { devices = false, log = false }.identity.errors) do
      assert.is_not.equal(50013, e.code) -- assertion_replay
    end
    client:close()
  end)

  it("reads an encrypted key with its passphrase", function()
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = fx.APP,
      certificate = { cert = c1.crt, key = c1.enc, passphrase = PASS } })))
    assert(client:list_devices())
    client:close()
  end)

  it("reports a bad certificate, key or passphrase from connect, sending nothing", function()
    local requests = emu:state { devices = false, log = false }.requests
    local cases = {
      { { cert = c1.crt, key = c1.enc }, "passphrase is required" },
      { { cert = c1.crt, key = c1.enc, passphrase = "wrong" }, "wrong passphrase" },
      { { cert = c1.crt, key = c2.key }, "does not match" },
      { { cert = dir .. "/missing.pem", key = c1.key }, "cannot read" },
      { { cert = c1.crt, key = c1.key, alg = "ES256" }, "PS256" },
    }
    for _, case in ipairs(cases) do
      local client, err = autopilot.connect(fx.opts(emu, { client_id = fx.APP, certificate = case[1] }))
      assert.is_nil(client)
      assert.equal("InvalidConfiguration", err.code)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
      assert.falsy(tostring(err):find(PASS, 1, true))
    end
    assert.equal(requests, emu:state { devices = false, log = false }.requests)
  end)

  it("turns an unregistered certificate into AADSTS700027 with a hint", function()
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = fx.APP,
      certificate = { cert = c2.crt, key = c2.key } })))
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("invalid_client", err.code)
    assert.equal(700027, err.aadsts)
    assert.equal(401, err.status)
    assert.truthy(err.trace_id and err.correlation_id)
    assert.truthy(err.hint:find("certificate", 1, true))
    client:close()
  end)

  it("takes AZURE_CLIENT_CERTIFICATE_PATH (one PEM with certificate and key) from the environment", function()
    local both = dir .. "/both.pem"
    files.write(both, files.slurp(c1.crt) .. files.slurp(c1.key))
    local env = { AZURE_TENANT_ID = emu.tenant, AZURE_CLIENT_ID = fx.APP, AZURE_CLIENT_CERTIFICATE_PATH = both }
    local opts = require("autopilot.credentials").from_environment(function(k) return env[k] end)
    opts.graph_url, opts.login_url = emu.url, emu.url
    local client = assert(autopilot.connect(opts))
    assert(client:list_devices())
    assert.equal("certificate", client:token_info().flow)
    client:close()
  end)
end)
