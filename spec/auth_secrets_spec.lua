-- No secret, assertion, refresh token, device code or access token appears in any error string, log
-- line, report, journal, tostring output, or file other than the token cache. A child lua5.4 process
-- signs in every way (and fails in several), runs a bulk unassignment with a journal and a report, and
-- prints everything it can; then its output and every file it wrote are searched.
local emulator = require "autopilot.emulator"
local cjson = require("cjson.safe").new()
local fx = require "auth_fixtures"
local files = require "files"
local shell = require "shell"
local q = shell.quote
local paths = require "paths"

local PASS = "Leak-Test-Passphrase-41"
local WRONG = "Wrong~Secret.value-Leak-77"

describe("secrets stay secret", function()
  it("appear nowhere but in the token cache", function()
    local dir = files.tempdir()
    local cert = fx.certificate(dir, "leak", PASS)
    local emu <close> = assert(emulator.start { devices = 6, seed = 8,
      device_code = { approve_after = 1, interval = 1 },
      apps = { { client_id = fx.APP, certificate = cert.pem, roles = { fx.WRITE } } } })
    local out = dir .. "/out"
    shell.check("mkdir " .. q(out))
    local script = dir .. "/leak.lua"
    files.write(script, [[
local autopilot = require "autopilot"
local url, tenant, client_id, secret, app, crt, key, pass, wrong, out = ...
local function show(label, v)
  if type(v) == "table" and getmetatable(v) == nil then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local x = v[k]
      print(label, k, type(x) == "table" and table.concat(x, " ") or tostring(x))
    end
  else
    print(label, tostring(v))
  end
end
local base = { graph_url = url, login_url = url, tenant = tenant }
local function with(t)
  local o = {}
  for k, v in pairs(base) do o[k] = v end
  for k, v in pairs(t) do o[k] = v end
  return o
end
local flows = {
  secret = with { client_id = client_id, client_secret = secret },
  wrong = with { client_id = client_id, client_secret = wrong },
  cert = with { client_id = app, certificate = { cert = crt, key = key, passphrase = pass } },
  badpass = with { client_id = app, certificate = { cert = crt, key = key, passphrase = "nope" } },
  device = with { client_id = client_id, device_code = true, token_cache = out .. "/cache.json" },
  msi = { graph_url = url, managed_identity = { endpoint = url .. "/msi/token", header = "emulator-identity-header" } },
}
for _, name in ipairs { "secret", "wrong", "cert", "badpass", "device", "msi" } do
  local client, cerr = autopilot.connect(flows[name])
  show(name .. " connect", client or cerr)
  if client then
    local list, err = client:list_devices()
    show(name .. " list", list and #list or err)
    show(name .. " info", client:token_info())
    show(name .. " session", client._session)
    show(name .. " stats", client:stats())
    local ids = {}
    for i, d in ipairs(list or {}) do ids[i] = d.id end
    if #ids == 0 then ids = { "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f" } end
    local report, rerr = client:unassign_users(ids, { journal = out .. "/" .. name .. ".jsonl", force = true })
    show(name .. " bulk", report or rerr)
    if report then
      print(report:summary())
      report:write_csv(out .. "/" .. name .. ".csv")
    end
    io.stderr:write(name, " log: ", tostring(err), " ", tostring(client), "\n")
    client:close()
  end
end
]])
    local cmd = paths.env() .. " lua5.4 " .. table.concat({ q(script), q(emu.url), emu.tenant, emu.client_id,
      q(emu.client_secret), fx.APP, q(cert.crt), q(cert.enc), q(PASS), q(WRONG), q(out) }, " ")
      .. " >" .. q(out .. "/stdout.txt") .. " 2>" .. q(out .. "/stderr.txt")
    local ok = os.execute(cmd)
    local stdout, stderr = files.slurp(out .. "/stdout.txt"), files.slurp(out .. "/stderr.txt")
    assert.is_true(ok, stdout .. stderr)
    -- the run did what it says: every flow signed in or failed as expected
    assert.truthy(stdout:find("secret list\t6", 1, true), stdout)
    assert.truthy(stdout:find("cert list\t6", 1, true), stdout)
    assert.truthy(stdout:find("device list\t6", 1, true), stdout)
    assert.truthy(stdout:find("msi list\t6", 1, true), stdout)
    assert.truthy(stdout:find("AADSTS7000215", 1, true), stdout)
    assert.truthy(stdout:find("wrong passphrase", 1, true), stdout)
    assert.truthy(stderr:find("microsoft.com/devicelogin", 1, true), stderr) -- device_code = true's message

    -- what must never show: the secrets we gave, and anything shaped like the tokens we were given
    local cache = files.slurp(out .. "/cache.json")
    local needles = { emu.client_secret, WRONG, PASS, "emulator-identity-header" }
    for _, e in pairs(cjson.decode(cache).entries) do needles[#needles + 1] = e.refresh_token end
    assert.is_true(#needles >= 5)
    for line in files.slurp(cert.key):gmatch("[^\n]+") do
      if not line:find("-----", 1, true) then needles[#needles + 1] = line end
    end
    local shapes = { "eyJ[%w_-]+%.eyJ", "DAQABIQEAAAD", "1%.AQ[%w_-]+" }
    local f = assert(io.popen("find " .. q(out) .. " -type f"))
    local checked = 0
    for path in f:lines() do
      if not path:find("cache.json", 1, true) then
        local text = files.slurp(path)
        checked = checked + 1
        for _, n in ipairs(needles) do
          assert.falsy(text:find(n, 1, true), path .. " holds a secret")
        end
        for _, p in ipairs(shapes) do
          assert.falsy(text:find(p), path .. " holds something shaped like a token: " .. p)
        end
      end
    end
    f:close()
    assert.is_true(checked >= 6) -- stdout, stderr, journals, reports
    if not os.getenv("KEEP") then files.remove(dir) end
  end)
end)
