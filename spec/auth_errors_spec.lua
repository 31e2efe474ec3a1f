-- Token endpoint failures as error values: the OAuth `error` as code, the AADSTS number, trace and
-- correlation ids, a hint that says what to fix, and a wrong-cloud configuration reported as such.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local fx = require "auth_fixtures"

describe("token endpoint errors", function()
  local emu

  setup(function()
    emu = assert(emulator.start { devices = 2, seed = 6, device_code = { approve_after = 0, interval = 1 },
      apps = { { client_id = fx.APP, public = true, delegated_scopes = { "User.Read" } } } })
  end)

  teardown(function() if emu then emu:stop() end end)

  local function graph_requests()
    local n = 0
    for k, v in pairs(emu:state { devices = false, log = false }.counters) do
      if k ~= "identity" then for _, c in pairs(v) do n = n + c end end
    end
    return n
  end

  local function fails(extra, code, aadsts, hint)
    local before = graph_requests()
    local client = assert(autopilot.connect(fx.opts(emu, extra)))
    local ok, err = client:list_devices()
    client:close()
    assert.is_nil(ok)
    assert.equal(code, err.code)
    assert.equal(aadsts, err.aadsts)
    assert.equal("auth", err.kind)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", err.trace_id)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", err.correlation_id)
    assert.truthy(err.hint and err.hint:find(hint, 1, true), tostring(err))
    assert.truthy(tostring(err):find("AADSTS" .. aadsts, 1, true))
    assert.equal(before, graph_requests()) -- nothing went to Graph
    return err
  end

  it("wrong client secret: AADSTS7000215, never echoing the secret", function()
    local err = fails({ client_id = emu.client_id, client_secret = "Wrong~secret.value-123" }, "invalid_client",
      7000215, "secret")
    assert.equal(401, err.status)
    assert.falsy(tostring(err):find("Wrong~secret", 1, true))
    assert.falsy(tostring(err):find(emu.client_secret, 1, true))
  end)

  it("unknown tenant: AADSTS90002", function()
    fails({ tenant = "fabrikam.onmicrosoft.com", client_id = emu.client_id, client_secret = emu.client_secret },
      "invalid_request", 90002, "tenant")
  end)

  it("unknown application: AADSTS700016", function()
    fails({ client_id = "99999999-9999-4999-8999-999999999999", client_secret = "x" }, "unauthorized_client",
      700016, "client_id")
  end)

  it("missing admin consent for the delegated permission: AADSTS65001", function()
    fails({ client_id = fx.APP, device_code = function() end }, "invalid_grant", 65001, "consent")
  end)

  it("wrong cloud: a usgov configuration against a global tenant is reported as such", function()
    local err = fails({ cloud = "usgov", client_id = emu.client_id, client_secret = emu.client_secret },
      "invalid_resource", 500011, "cloud")
    assert.truthy(err.message:find("graph.microsoft.us", 1, true))
  end)

  it("client credentials refuse the organizations and common endpoints before sending anything", function()
    local client, err = autopilot.connect(fx.opts(emu, { tenant = "organizations", client_id = emu.client_id,
      client_secret = emu.client_secret }))
    assert.is_nil(client)
    assert.equal("InvalidConfiguration", err.code)
  end)

  it("an unreachable token endpoint is a transport error", function()
    local client = assert(autopilot.connect(fx.opts(emu, { login_url = "http://127.0.0.1:1",
      client_id = emu.client_id, client_secret = emu.client_secret, max_retries = 0 })))
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("COULDNT_CONNECT", err.code)
    assert.equal("auth", err.kind)
    client:close()
  end)

  it("signs in to each national cloud's own Graph host when the tenant lives there", function()
    local clouds = require "autopilot.clouds"
    for _, name in ipairs { "usgov", "dod", "china" } do
      local graph = clouds[name].graph
      local national <close> = assert(emulator.start { devices = 1, seed = 2, graph_resource = graph,
        device_code = { approve_after = 0, interval = 1 } })
      local c1 = assert(autopilot.connect(fx.opts(national, { cloud = name, client_id = national.client_id,
        client_secret = national.client_secret })))
      assert.equal(1, #assert(c1:list_devices()))
      local c2 = assert(autopilot.connect(fx.opts(national, { cloud = name, client_id = national.client_id,
        device_code = function() end })))
      assert.equal(1, #assert(c2:list_devices()))
      -- and the global cloud's configuration is refused there, as the service would
      local c3 = assert(autopilot.connect(fx.opts(national, { client_id = national.client_id,
        client_secret = national.client_secret })))
      local ok, err = c3:list_devices()
      assert.is_nil(ok)
      assert.equal(500011, err.aadsts)
      c1:close(); c2:close(); c3:close()
    end
  end)

  it("asks for delegated permissions on the chosen cloud's Graph host", function()
    local credentials = require "autopilot.credentials"
    local clouds = require "autopilot.clouds"
    local auth = assert(credentials.resolve({ device_code = true }, clouds.usgov, clouds.usgov.login))
    assert.equal("https://graph.microsoft.us/DeviceManagementServiceConfig.ReadWrite.All offline_access", auth.scope)
    assert.equal("https://login.microsoftonline.us/organizations/oauth2/v2.0/devicecode", auth.devicecode_url)
    assert.equal(credentials.DEVICE_CODE_CLIENT_ID, auth.client_id)
    local mi = assert(credentials.resolve({ managed_identity = { endpoint = "http://127.0.0.1:9/msi/token",
      header = "h" } }, clouds.china, clouds.china.login))
    assert.equal("http://127.0.0.1:9/msi/token?api-version=2019-08-01&resource="
      .. "https%3A%2F%2Fmicrosoftgraph.chinacloudapi.cn", mi.token_url)
    assert.equal("X-IDENTITY-HEADER: h", mi.header)
  end)

  it("reads the Azure SDK environment variables", function()
    local credentials = require "autopilot.credentials"
    local env = { AZURE_TENANT_ID = "t.onmicrosoft.com", AZURE_CLIENT_ID = "c", AZURE_CLIENT_SECRET = "s",
                  AZURE_AUTHORITY_HOST = "https://login.microsoftonline.us/" }
    local o = credentials.from_environment(function(k) return env[k] end)
    assert.same({ tenant = "t.onmicrosoft.com", client_id = "c", client_secret = "s",
                  login_url = "https://login.microsoftonline.us", cloud = "usgov" }, o)
    env = { AZURE_TENANT_ID = "t", AZURE_CLIENT_ID = "c", AZURE_CLIENT_CERTIFICATE_PATH = "/x.pem",
            AZURE_CLIENT_CERTIFICATE_PASSWORD = "p" }
    o = credentials.from_environment(function(k) return env[k] end)
    assert.same({ cert = "/x.pem", key = "/x.pem", passphrase = "p" }, o.certificate)
  end)
end)
