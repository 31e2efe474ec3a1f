-- Microsoft's own clients against the emulator, unchanged but for base URLs, a test CA and MSAL's
-- `disableInstanceDiscovery`: every @azure/identity credential kind (client secret, certificate, device
-- code, managed identity in its App Service and IMDS styles), then the Kiota-based Graph SDK
-- (@microsoft/msgraph-sdk's GraphRequestAdapter, its windowsAutopilotDeviceIdentity models and ODataError
-- mapping): a typed page, the plain-text $count, an unassign, and a 404 parsed as ODataError.
-- The typed request builders live in @microsoft/msgraph-sdk-devicemanagement, which this registry lacks, so
-- requests are built with Kiota's RequestInformation on the same URL templates those builders use.
-- Pending, not failed, when npm's registry cannot be reached (spec/support/npm_sdk.lua).
local cjson = require "cjson"
local emulator = require "autopilot.emulator"
local files = require "files"
local npm_sdk = require "npm_sdk"
local shell = require "shell"
local tls = require "tls"

local q, sh = shell.quote, shell.run

local PACKAGES = "@azure/identity@4 @microsoft/msgraph-sdk@1.0.0-preview.90"
  .. " @microsoft/kiota-authentication-azure@1.0.0-preview.109"
local dir, missing = npm_sdk.install("kiota", PACKAGES, "@microsoft/msgraph-sdk/package.json")

describe("@azure/identity and the Kiota Graph SDK against the emulator", function()
  if not dir then
    pending(missing)
    return
  end

  local tmp, emu, app_pem
  setup(function()
    tmp = files.tempdir()
    shell.check("cp spec/support/sdk/identity_kiota.mjs " .. q(dir .. "/identity_kiota.mjs"))
    assert.truthy(tls.self_signed(tmp, "c", { cn = "127.0.0.1", loopback = true }))
    local app = assert(tls.self_signed(tmp, "app"))
    app_pem = tmp .. "/app.pem" -- @azure/identity reads the certificate and its key from one file
    files.write(app_pem, files.slurp(app.crt) .. files.slurp(app.key))
    emu = assert(emulator.start({ devices = 12, seed = 3, tls_cert = tmp .. "/c.crt", tls_key = tmp .. "/c.key",
      client_certificate = app.pem, device_code = { approve_after = 0, interval = 1 } }))
  end)
  teardown(function()
    if emu then emu:stop() end
    files.remove(tmp)
  end)

  local function run(which, env)
    local out, code = sh("cd " .. q(dir) .. " && " .. (env or "") .. " NODE_EXTRA_CA_CERTS=" .. q(tmp .. "/c.crt")
      .. " node identity_kiota.mjs " .. q(emu.url) .. " " .. q(emu.tenant) .. " " .. q(emu.client_id) .. " "
      .. q(emu.client_secret) .. " " .. q(app_pem) .. " " .. which .. " 2>&1")
    assert(code == 0, which .. ": node failed: " .. out)
    return cjson.decode(out:match("(%b{})%s*$"))
  end

  local function grants() return emu:state({ devices = false, log = false }).identity.by_grant end

  it("signs in with a certificate (ClientCertificateCredential)", function()
    local function assertions() -- MSAL signs with PS256 or RS256 by version
      local by = emu:state({ devices = false, log = false }).identity.by_client_auth
      return (by.PS256 or 0) + (by.RS256 or 0)
    end
    local before = assertions()
    assert.is_true(run("certificate").token)
    assert.equal(before + 1, assertions())
  end)

  it("signs in with a device code (DeviceCodeCredential), showing Microsoft's prompt", function()
    local r = run("device_code")
    assert.is_true(r.token)
    assert.matches("^%u+$", r.user_code)
    assert.equal("https://microsoft.com/devicelogin", r.verification_uri)
    assert.equal(1, grants().device_code)
  end)

  it("signs in as a managed identity, App Service style and IMDS style", function()
    assert.is_true(run("managed", "IDENTITY_ENDPOINT=" .. q(emu.url .. "/msi/token")
      .. " IDENTITY_HEADER=emulator-identity-header").token)
    assert.equal(1, grants().managed_identity)
    assert.is_true(run("managed", "AZURE_POD_IDENTITY_AUTHORITY_HOST=" .. q(emu.url)).token)
    assert.equal(1, grants().imds)
  end)

  it("lists, counts and unassigns with Kiota over a client secret, and parses a 404 as ODataError", function()
    local r = run("secret")
    assert.is_true(r.token)
    assert.equal(5, r.page)
    assert.is_true(r.next)
    assert.equal(12, r.count)
    assert.equal("", r.after_upn)
    assert.equal("", emu:state({ device = r.unassigned }).device.userPrincipalName)
    assert.matches("^%a+$", r.enrollment_state)
    assert.equal(404, r.error.status)
    assert.equal("ResourceNotFound", r.error.code)
    assert.matches("was not found", r.error.message)
  end)
end)
