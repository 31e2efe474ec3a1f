-- Refresh tokens: rotated on every use, kept per tenant, client and scopes in a 0600 token cache so a
-- second run of a script (another lua5.4 process) signs in silently; unusable caches are refused clearly.
-- And a token that expires in the middle of 1,000 requests costs none of them.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local cjson = require("cjson.safe").new()
local fx = require "auth_fixtures"
local files = require "files"
local shell = require "shell"
local q = shell.quote
local paths = require "paths"

local function identity(emu) return emu:state { devices = false, log = false }.identity end

local function cached_tokens(path)
  local doc = assert(cjson.decode(files.slurp(path)))
  local out = {}
  for _, e in pairs(doc.entries) do out[#out + 1] = e.refresh_token end
  return out
end

local function mode_of(path)
  return (shell.run("stat -c %a " .. q(path)):match("^[^\n]*"))
end

describe("refresh tokens and the token cache", function()
  local dir, emu, script

  setup(function()
    dir = files.tempdir()
    emu = assert(emulator.start { devices = 4, seed = 3, device_code = { approve_after = 0, interval = 1 } })
    script = dir .. "/run.lua"
    files.write(script, [[
local autopilot = require "autopilot"
local url, tenant, client_id, cache = ...
local client = assert(autopilot.connect { graph_url = url, login_url = url, tenant = tenant,
  client_id = client_id, token_cache = cache,
  device_code = function(info) io.write("PROMPTED ", info.user_code, "\n") end })
local list, err = client:list_devices()
if not list then io.write("ERROR ", tostring(err), "\n") os.exit(1) end
io.write("DEVICES ", #list, " FLOW ", client:token_info().flow, "\n")
]])
  end)

  teardown(function()
    if emu then emu:stop() end
    files.remove(dir)
  end)

  local function run(cache)
    local cmd = paths.env() .. " lua5.4 " .. q(script) .. " " .. q(emu.url) .. " " .. emu.tenant .. " "
      .. emu.client_id .. " " .. q(cache) .. " 2>&1"
    return (shell.run(cmd))
  end

  it("signs a second and third process in silently, rotating the refresh token each time", function()
    local cache = dir .. "/tokens.json"
    local out1 = run(cache)
    assert.truthy(out1:find("PROMPTED", 1, true), out1)
    assert.truthy(out1:find("DEVICES 4", 1, true), out1)
    assert.equal("600", mode_of(cache))
    local rt1 = cached_tokens(cache)
    assert.equal(1, #rt1)

    local out2 = run(cache)
    assert.falsy(out2:find("PROMPTED", 1, true), out2)
    assert.truthy(out2:find("DEVICES 4 FLOW device_code", 1, true), out2)
    local rt2 = cached_tokens(cache)
    assert.equal(1, #rt2)
    assert.is_not.equal(rt1[1], rt2[1])

    local out3 = run(cache)
    assert.falsy(out3:find("PROMPTED", 1, true), out3)
    assert.equal("600", mode_of(cache))
    local st = identity(emu)
    assert.equal(1, st.device_codes_issued)
    assert.equal(2, st.refresh_tokens_rotated)

    -- the spent token is refused by the service: rotation really happened
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, refresh_token = rt1[1] })))
    local ok, err = client:list_devices()
    assert.is_nil(ok)
    assert.equal("invalid_grant", err.code)
    assert.truthy(err.hint:find("sign in again", 1, true))
    assert.equal("refresh_token", client:token_info().flow)
    client:close()
  end)

  it("takes the newer refresh token another client rotated meanwhile instead of signing in again", function()
    local cache = dir .. "/shared.json"
    assert.truthy(run(cache):find("PROMPTED", 1, true))
    local prompts = 0
    local function open()
      return assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, token_cache = cache,
        device_code = function() prompts = prompts + 1 end })))
    end
    local a, b = open(), open() -- both read the same refresh token now
    local issued = identity(emu).device_codes_issued
    assert(a:list_devices()) -- rotates it: b's copy is spent
    assert(b:list_devices()) -- refused, then finds a's newer one in the cache
    assert.equal(0, prompts)
    assert.equal(issued, identity(emu).device_codes_issued)
    assert.equal(1, #cached_tokens(cache))
    a:close()
    b:close()
    -- a refused token with nothing newer in the cache is forgotten there, and a device code sign-in follows
    emu:configure { revoke = true }
    local c = open()
    assert(c:list_devices())
    assert.equal(1, prompts)
    c:close()
  end)

  it("keeps entries apart by tenant, client and scopes", function()
    local cache = dir .. "/scoped.json"
    assert.truthy(run(cache):find("PROMPTED", 1, true))
    local client, err = autopilot.connect(fx.opts(emu, { client_id = emu.client_id, token_cache = cache,
      scopes = { "DeviceManagementServiceConfig.Read.All" } }))
    assert.is_nil(client)
    assert.equal("InvalidConfiguration", err.code)
    assert.truthy(err.message:find("no refresh token", 1, true))
    local c2 = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, token_cache = cache,
      scopes = { "DeviceManagementServiceConfig.Read.All" }, device_code = function() end })))
    assert(c2:list_devices())
    c2:close()
    local doc = cjson.decode(files.slurp(cache))
    local n = 0
    for _ in pairs(doc.entries) do n = n + 1 end
    assert.equal(2, n)
  end)

  it("falls back to a device code when the cached refresh token is refused", function()
    local cache = dir .. "/revoked.json"
    assert.truthy(run(cache):find("PROMPTED", 1, true))
    emu:configure { revoke = true }
    local out = run(cache)
    assert.truthy(out:find("PROMPTED", 1, true), out)
    assert.truthy(out:find("DEVICES 4", 1, true), out)
  end)

  local function refused(cache, pattern)
    local before = files.slurp(cache)
    local client, err = autopilot.connect(fx.opts(emu, { client_id = emu.client_id, token_cache = cache,
      device_code = true }))
    assert.is_nil(client)
    assert.equal("TokenCacheError", err.code)
    assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
    assert.equal(before, files.slurp(cache)) -- never silently overwritten
    return err
  end

  it("refuses a corrupted cache, saying what to do", function()
    local cache = dir .. "/corrupt.json"
    files.write(cache, '{"version":1,"entries":', "600")
    local err = refused(cache, "corrupted")
    assert.truthy(err.message:find("delete it", 1, true))
    files.write(cache, '{"kind":"lua-autopilot token cache","entries":{"k":{"refresh_token":7}}}', "600")
    refused(cache, "damaged entry")
  end)

  it("refuses a cache readable by others", function()
    local cache = dir .. "/open.json"
    files.write(cache, '{"version":1,"kind":"lua-autopilot token cache","entries":{}}', "644")
    refused(cache, "readable by others")
  end)

  it("refuses a cache owned by another user", function()
    local uid = shell.run("id -u"):match("^[^\n]*")
    if uid ~= "0" then
      pending("needs root to give a file to another user")
      return
    end
    local cache = dir .. "/theirs.json"
    files.write(cache, '{"version":1,"kind":"lua-autopilot token cache","entries":{}}', "600")
    shell.check("chown nobody " .. q(cache))
    refused(cache, "another user")
  end)

  it("loses none of 1,000 requests when the token expires in the middle", function()
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id,
      client_secret = emu.client_secret, concurrency = 8 })))
    local s = client._session
    local ids = assert(client:list_devices())
    local url = client:_url("/deviceManagement/windowsAutopilotDeviceIdentities/" .. ids[1].id)
    local submitted, done, failed, advanced = 0, 0, 0, false
    while done < 1000 do
      while submitted < 1000 and s:pending() < 32 do
        s:submit { method = "GET", url = url }
        submitted = submitted + 1
      end
      for _, r in ipairs(s:poll(nil)) do
        done = done + 1
        if r.status ~= 200 then failed = failed + 1 end
      end
      if done >= 500 and not advanced then
        emu:configure { advance = 7200 } -- every token issued so far is now expired at Graph
        advanced = true
      end
    end
    assert.equal(0, failed)
    assert.is_true(client:stats().tokens_fetched >= 2)
    assert.is_true((emu:state { devices = false, log = false }.identity.authorize_failures.expired or 0) >= 1)
    client:close()
  end)
end)
