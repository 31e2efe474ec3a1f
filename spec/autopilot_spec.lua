-- The public client (lua/autopilot.lua) end to end: the real C core over real sockets to the emulator.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

local READER = { client_id = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", client_secret = "reader-secret",
                 roles = { "DeviceManagementServiceConfig.Read.All" } }

local connect, find_device = tenant.connect, tenant.find_device

local function requests(emu)
  return emu:state { devices = false, log = false }.requests
end

describe("autopilot client", function()
  local emu, client

  setup(function()
    emu = assert(emulator.start { devices = 300, seed = 11, apps = { READER } })
    client = connect(emu)
  end)

  teardown(function()
    client:close()
    emu:stop()
  end)

  before_each(function()
    emu:configure { faults = false, throttle = false, latency = false }
  end)

  it("unassigns a device's user: 204, and the emulator shows no user", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    assert.is_true(client:unassign_user(d.id))
    assert.equal("", emu:state { device = d.id }.device.userPrincipalName)
    -- idempotent: a second call is fine too
    assert.is_true(client:unassign_user(d.id))
  end)

  it("reads a device, printable at the REPL", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    local got = assert(client:device(d.id))
    assert.equal(d.serialNumber, got.serialNumber)
    assert.equal(1, tostring(got):find("autopilot.Device " .. d.id, 1, true))
  end)

  it("assigns, updates and deletes", function()
    local d = find_device(emu, function(x) return x.userPrincipalName == "" end)
    assert.is_true(client:assign_user(d.id, "kim@contoso.onmicrosoft.com"))
    assert.equal("kim@contoso.onmicrosoft.com", emu:state { device = d.id }.device.userPrincipalName)
    assert.is_true(client:update_device(d.id, { groupTag = "Lab-7", displayName = "LAB7-001" }))
    assert.equal("Lab-7", emu:state { device = d.id }.device.groupTag)
    assert.is_true(client:delete_device(d.id))
    assert.is_nil(emu:state { device = d.id }.device)
    local none, err = client:delete_device(d.id)
    assert.is_nil(none)
    assert.equal(400, err.status)                -- the service's answer for an unknown id
  end)

  it("reports 404 ResourceNotFound as a value", function()
    local d, err = client:device("00000000-1111-4222-8333-444444444444")
    assert.is_nil(d)
    assert.equal(404, err.status)
    assert.equal("ResourceNotFound", err.code)
    assert.is_string(err.request_id)
    assert.matches("^autopilot: 404 ResourceNotFound: ", tostring(err))
  end)

  it("unwraps Intune's nested message on a 400 from an eq filter", function()
    local list, err = client:list_devices { filter = "serialNumber eq 'X'" }
    assert.is_nil(list)
    assert.equal(400, err.status)
    assert.equal("BadRequest", err.code)
    assert.is_string(err.raw_message)
    assert.equal("{", err.raw_message:sub(1, 1))
    assert.is_nil(err.message:find("^{"))
    assert.is_nil(tostring(err):find("\n"))
  end)

  it("gets 403 Forbidden for an app that may only read", function()
    local reader = connect(emu, { client_id = READER.client_id, client_secret = READER.client_secret })
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    assert.truthy(reader:device(d.id))
    local ok, err = reader:unassign_user(d.id)
    assert.is_nil(ok)
    assert.equal(403, err.status)
    assert.not_equal("", emu:state { device = d.id }.device.userPrincipalName)
    reader:close()
  end)

  it("refreshes a revoked token on a 401 without the caller noticing", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    assert.truthy(client:device(d.id))         -- a token is cached now
    local before = client:stats().tokens_fetched
    emu:configure { faults = { targets = { [d.id] = { "revoke" } } } }
    assert.is_true(client:unassign_user(d.id))
    assert.equal(before + 1, client:stats().tokens_fetched)
  end)

  for _, form in ipairs { "integer", "decimal", "date", "absent" } do
    it("waits out a 429 with Retry-After (" .. form .. ") and never retries early", function()
      local c = connect(emu)
      local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
      local d2 = find_device(emu, function(x) return x.userPrincipalName ~= "" and x.id ~= d.id end)
      local mix = { [form] = 1 }
      -- a bucket of one write refilled in 3 s: the next write is refused whenever it comes within 3 s of the
      -- first, however slow the machine (fixed windows could put the two writes in two windows)
      emu:configure { throttle = { enabled = true, model = "bucket", app_writes = 1, window = 3, retry_after = mix } }
      local early = emu:state { devices = false, log = false }.early_retries
      assert.is_true(c:unassign_user(d.id))            -- spends the bucket's one write
      assert.is_true(c:unassign_user(d2.id))           -- 429 first, then success after the wait
      local st = emu:state { devices = false, log = false }
      assert.is_true(st.throttled >= 1)
      assert.equal(early, st.early_retries)
      assert.is_true(c:stats().throttled >= 1)
      c:close()
    end)
  end

  it("retries a 503 and succeeds", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    emu:configure { faults = { targets = { [d.id] = { "503", "503" } } } }
    assert.is_true(client:unassign_user(d.id))
    assert.equal("", emu:state { device = d.id }.device.userPrincipalName)
  end)

  it("retries a reset connection for an idempotent call", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    emu:configure { faults = { targets = { [d.id] = { "reset" } } } }
    local got = assert(client:device(d.id))
    assert.equal(d.id, got.id)
  end)

  it("reports a timeout by curl's error name", function()
    local c = connect(emu, { timeout = 1, max_retries = 0 })
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    emu:configure { faults = { targets = { [d.id] = { "stall" } }, stall_seconds = 3 } }
    local got, err = c:device(d.id)
    assert.is_nil(got)
    assert.is_nil(err.status)
    assert.equal("OPERATION_TIMEDOUT", err.code)
    c:close()
  end)

  it("reports malformed JSON as InvalidResponse", function()
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    emu:configure { faults = { targets = { [d.id] = { "malformed" } } } }
    local got, err = client:device(d.id)
    assert.is_nil(got)
    assert.equal("InvalidResponse", err.code)
    assert.equal(200, err.status)
  end)

  it("finds serials exactly, hyphenated and duplicated ones included", function()
    local all = emu:state { log = false }.devices
    local by_serial = {}
    for _, d in ipairs(all) do
      by_serial[d.serialNumber] = (by_serial[d.serialNumber] or 0) + 1
    end
    local hyphen, dup
    for s, n in pairs(by_serial) do
      if s:find("-", 1, true) and not hyphen then hyphen = s end
      if n > 1 and not dup then dup = s end
    end
    assert.is_string(hyphen, "the generator makes hyphenated serials")
    assert.is_string(dup, "the generator makes duplicated serials")
    for _, serial in ipairs { hyphen, dup } do
      local list = assert(client:list_devices { serial = serial })
      assert.equal(by_serial[serial], #list)
      for _, d in ipairs(list) do assert.equal(serial, d.serialNumber) end
    end
    assert.same({}, assert(client:list_devices { serial = "NO-SUCH-SERIAL" }))
  end)

  it("rejects 30+ malformed ids with nothing sent", function()
    local bad = { "", " ", "x", "not-a-guid", "../", "../../deviceManagement", "%2e%2e%2f",
      "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3ff",
      "5f0e5a5c7b8b4f8e9d5b0d8a2b6c1e3f", "{5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f}",
      "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3g", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f\r\n",
      "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f\nHost: evil", "\r\n", "5f0e5a5c-7b8b-4f8e-9d5b\0-0d8a2b6c1e3f",
      "\0", string.rep("a", 10240), string.rep("5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f", 3),
      " 5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f ",
      "5f0e5a5c_7b8b_4f8e_9d5b_0d8a2b6c1e3f", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f?x=1",
      "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f/../x", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f#",
      "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3\u{e9}",
      "\u{ff10}f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f\t",
      "'; DROP TABLE devices; --", "5f0e5a5c--7b8b-4f8e-9d5b-0d8a2b6c1e3f" }
    local not_strings = { 42, 4.2, true, false, {}, function() end, io.stdout }
    assert.is_true(#bad + #not_strings >= 30)
    local before = requests(emu)
    for _, id in ipairs(bad) do
      for _, call in ipairs {
        function() return client:unassign_user(id) end,
        function() return client:device(id) end,
        function() return client:delete_device(id) end,
        function() return client:assign_user(id, "a@b.c") end,
        function() return client:update_device(id, { groupTag = "x" }) end,
      } do
        local ok, err = call()
        assert.is_nil(ok)
        assert.equal("InvalidDeviceId", err.code)
        assert.is_nil(err.status)
        assert.is_true(#tostring(err) < 300)
        assert.is_nil(tostring(err):find("[%z\r\n]"))
      end
    end
    for _, id in ipairs(not_strings) do
      assert.has_error(function() client:unassign_user(id) end)
    end
    assert.has_error(function() client:unassign_user() end)
    assert.equal(before, requests(emu))
  end)

  it("raises on programmer errors before sending anything", function()
    local before = requests(emu)
    assert.has_error(function() autopilot.connect { tenant = "t", bogus = 1 } end,
      "autopilot.connect: unknown option 'bogus'")
    assert.has_error(function() autopilot.connect { timeout = "10" } end,
      "autopilot.connect: option 'timeout' must be a number, got string")
    assert.has_error(function() client:unassign_user("x", { via_profil = true }) end)
    assert.has_error(function() client:list_devices { serail = "x" } end)
    assert.has_error(function() client:update_device("5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f",
      { deviceAccountPassword = "x" }) end)  -- beta only
    assert.has_error(function() client:request("BREW", "/x") end)
    assert.equal(before, requests(emu))
  end)

  it("reports missing credentials and bad URLs as values", function()
    local c, err = autopilot.connect { tenant = "contoso.onmicrosoft.com", client_secret = "s" }
    assert.is_nil(c)
    assert.equal("InvalidConfiguration", err.code)
    c, err = autopilot.connect { access_token = "t", graph_url = "ftp://x" }
    assert.is_nil(c)
    assert.equal("InvalidConfiguration", err.code)
    c, err = autopilot.connect { access_token = "t", cloud = "mars" }
    assert.is_nil(c)
    assert.matches("unknown cloud", err.message)
    c, err = autopilot.connect { tenant = "../x", client_id = "c", client_secret = "s" }
    assert.is_nil(c)
    assert.equal("InvalidConfiguration", err.code)
  end)

  it("sends any other Graph call through request()", function()
    local page = assert(client:request("GET", "/deviceManagement/windowsAutopilotDeviceIdentities?$top=2"))
    assert.equal(2, #page.value)
    assert.is_string(page["@odata.nextLink"])
    local again = assert(client:request("GET", page["@odata.nextLink"]))
    assert.is_table(again.value)
    assert.has_error(function() client:request("GET", "https://elsewhere.example/x") end)
  end)

  it("never shows the secret, and prints readably", function()
    local s = tostring(client)
    assert.matches("^autopilot.Client %(client_secret, tenant ", s)
    assert.is_nil(s:find(emu.client_secret, 1, true))
    local info = client:token_info()
    for _, v in pairs(info) do
      assert.is_nil(tostring(v):find(emu.client_secret, 1, true))
    end
    assert.matches("^lua%-autopilot %d", autopilot._VERSION)
  end)

  it("is closed by <close>, and raises when used after close", function()
    local c
    do
      local scoped <close> = connect(emu)
      c = scoped
    end
    assert.matches("closed%)$", tostring(c))
    assert.has_error(function() c:device("5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f") end)
    c:close() -- idempotent
  end)
end)

describe("autopilot client at scale", function()
  local emu, client
  setup(function()
    emu = assert(emulator.start { devices = 5000, seed = 5 })
    client = connect(emu)
  end)
  teardown(function()
    client:close()
    emu:stop()
  end)

  it("lists 5,000 devices across pages, without the cursor's duplicates", function()
    local list = assert(client:list_devices())
    assert.equal(5000, #list)
    local seen = {}
    for _, d in ipairs(list) do
      assert.is_nil(seen[d.id])
      seen[d.id] = true
    end
    -- the listing really went over several pages
    local pages = 0
    for _, e in ipairs(emu:state { devices = false }.log) do
      if e.method == "GET" and e.path:find("windowsAutopilotDeviceIdentities%f[?\0]") then pages = pages + 1 end
    end
    assert.is_true(pages >= 5)
  end)

  it("walks the same devices with each_device, page by page", function()
    local n, seen = 0, {}
    for d, err in client:each_device() do
      assert.is_truthy(d, err and tostring(err))
      assert.is_nil(seen[d.id])
      seen[d.id] = true
      n = n + 1
    end
    assert.equal(5000, n)
  end)

  it("takes top as a cap: one request with $top, and each_device stops there too", function()
    local function gets()
      local n = 0
      for _, e in ipairs(emu:state { devices = false }.log) do
        if e.method == "GET" and e.path:find("windowsAutopilotDeviceIdentities%f[?\0]") then n = n + 1 end
      end
      return n
    end
    local before = gets()
    local list = assert(client:list_devices { top = 5 })
    assert.equal(5, #list)
    assert.equal(before + 1, gets())
    local log = emu:state { devices = false }.log
    assert.matches("%$top=5$", log[#log].path)
    local n = 0
    for d in client:each_device { top = 3 } do
      assert.is_truthy(d)
      n = n + 1
    end
    assert.equal(3, n)
    assert.equal(before + 2, gets())
    assert.equal(1, #assert(client:list_devices { top = 1 }))
  end)
end)

describe("autopilot client, beta", function()
  it("unassigns through beta's deploymentProfile/assignedDevices path", function()
    local emu <close> = assert(emulator.start { devices = 20, seed = 3 })
    local client <close> = connect(emu, { api_version = "beta" })
    local d = find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    assert.is_true(client:unassign_user(d.id, { via_profile = true }))
    assert.equal("", emu:state { device = d.id }.device.userPrincipalName)
    local log = emu:state { devices = false }.log
    local last = log[#log]
    assert.equal("/beta/deviceManagement/windowsAutopilotDeviceIdentities/" .. d.id
      .. "/deploymentProfile/assignedDevices/" .. d.id .. "/unassignUserFromDevice", last.path)
    assert.equal(204, last.status)
  end)
end)

describe("autopilot client listing guards", function()
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
