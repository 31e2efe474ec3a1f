-- autopilot.credentials: which sign-in the options ask for, checked before anything is sent. The flows
-- themselves are the auth_*_spec files.
local emulator = require "autopilot.emulator"
local credentials = require "autopilot.credentials"
local tenant = require "tenant"

describe("autopilot.credentials", function()
  local emu, client

  setup(function()
    emu = assert(emulator.start { devices = 300, seed = 11 })
    client = tenant.connect(emu)
  end)

  teardown(function()
    client:close()
    emu:stop()
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


  it("reads the Azure SDK's environment variables", function()
    local env = { AZURE_TENANT_ID = "t", AZURE_CLIENT_ID = "c", AZURE_CLIENT_CERTIFICATE_PATH = "/x.pem",
                  AZURE_CLIENT_CERTIFICATE_PASSWORD = "pw", AZURE_AUTHORITY_HOST = "login.microsoftonline.us/" }
    local o = credentials.from_environment(function(k) return env[k] end)
    assert.equal("t", o.tenant)
    assert.equal("c", o.client_id)
    assert.same({ cert = "/x.pem", key = "/x.pem", passphrase = "pw" }, o.certificate)
    assert.equal("https://login.microsoftonline.us", o.login_url)
    assert.equal("usgov", o.cloud)
    env.AZURE_CLIENT_SECRET = "s"
    o = credentials.from_environment(function(k) return env[k] end)
    assert.equal("s", o.client_secret)
    assert.is_nil(o.certificate) -- a secret wins, as in the Azure SDK
  end)

  it("refuses client credentials without a real tenant, naming what is missing", function()
    local cloud = require("autopilot.clouds").lookup("global")
    for _, case in ipairs {
      { { client_id = "c", client_secret = "s" }, "client_secret needs tenant" },
      { { tenant = "organizations", client_id = "c", client_secret = "s" }, "need a real tenant" },
      { { tenant = "contoso.com", client_secret = "s" }, "needs client_id" },
      { { tenant = "bad/tenant", client_id = "c", client_secret = "s" }, "tenant must be a tenant GUID" },
      { {}, "no credentials" },
    } do
      local auth, err = credentials.resolve(case[1], cloud, cloud.login)
      assert.is_nil(auth)
      assert.equal("InvalidConfiguration", err.code)
      assert.matches(case[2], err.message, 1, true)
    end
  end)

  it("asks for the cloud's own Graph host in the scope, whatever graph_url says", function()
    local cloud = require("autopilot.clouds").lookup("usgov")
    local auth = assert(credentials.resolve({ tenant = "contoso.us", client_id = "c", client_secret = "s" }, cloud,
      "http://127.0.0.1:1"))
    assert.equal("https://graph.microsoft.us/.default", auth.scope)
    assert.equal("http://127.0.0.1:1/contoso.us/oauth2/v2.0/token", auth.token_url)
  end)
end)
