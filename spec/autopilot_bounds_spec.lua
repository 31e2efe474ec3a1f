-- connect's bounds and checks, and listings against a hostile Graph (spec/support/hostile_paging_app.lua)
-- that never lets them end, or names next pages no client should follow: list_devices, each_device and
-- unassign_users end with an error value, never raise and never loop; the count of requests the server saw
-- shows where they stopped.
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"

describe("listing bounds against a hostile Graph", function()
  local hostile

  lazy_setup(function() hostile = assert(emulator.start { app = "hostile_paging_app" }) end)
  lazy_teardown(function() if hostile then hostile:stop() end end)

  local function connect(mode, extra)
    local o = { access_token = "t0k3n", graph_url = hostile.url .. "/" .. mode, max_retries = 0 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return assert(autopilot.connect(o))
  end

  local function requests_during(f)
    local before = hostile:state().requests
    local a, b = f()
    return hostile:state().requests - before, a, b
  end

  it("stops empty pages with ever-new next links after MAX_IDLE_PAGES, with an error value", function()
    local c <close> = connect("empty")
    local n, list, err = requests_during(function() return c:list_devices() end)
    assert.is_nil(list)
    assert.equal("PagingLimit", err.code)
    assert.matches("no new device", err.message)
    assert.equal(autopilot.MAX_IDLE_PAGES, n)
  end)

  it("ends pages repeating one device under ever-new links at the second page (the inclusive cursor)", function()
    local c <close> = connect("same")
    local n, list = requests_during(function() return c:list_devices() end)
    assert.equal(1, #list)
    assert.equal(2, n)
  end)

  it("stops a listing that gains one device per page forever at max_pages", function()
    local c <close> = connect("one_new", { max_pages = 7 })
    local n, list, err = requests_during(function() return c:list_devices() end)
    assert.is_nil(list)
    assert.equal("PagingLimit", err.code)
    assert.matches("max_pages", err.message)
    assert.equal(7, n)
  end)

  it("reports the failure once from each_device, after the devices it did get", function()
    local c <close> = connect("one_new", { max_pages = 3 })
    local got, failures = {}, {}
    for d, err in c:each_device() do
      if d then got[#got + 1] = d.id else failures[#failures + 1] = err end
    end
    assert.equal(3, #got)
    assert.equal(1, #failures)
    assert.equal("PagingLimit", failures[1].code)
  end)

  it("ends a bulk run's listing with an error value", function()
    local c <close> = connect("empty")
    local report, err = c:unassign_users({ group_tag = "Kiosk" }, { dry_run = true, progress = false })
    assert.is_nil(report)
    assert.equal("PagingLimit", err.code)
  end)

  for _, mode in ipairs { "crlf", "long" } do
    it("gives nil, err for a " .. mode .. " next link from list_devices, each_device and unassign_users", function()
      local c <close> = connect(mode)
      local n, list, err = requests_during(function() return c:list_devices() end)
      assert.is_nil(list)
      assert.equal("InvalidResponse", err.code)
      assert.matches("not followed", err.message)
      assert.equal(1, n) -- the first page only
      local failures = 0
      for d, ierr in c:each_device() do
        if not d then
          failures = failures + 1
          assert.equal("InvalidResponse", ierr.code)
        end
      end
      assert.equal(1, failures)
      local report, rerr = c:unassign_users({ group_tag = "Kiosk" }, { dry_run = true, progress = false })
      assert.is_nil(report)
      assert.equal("InvalidResponse", rerr.code)
    end)
  end

  it("refuses max_pages out of range with an error value naming it", function()
    local c, err = autopilot.connect { access_token = "t", graph_url = hostile.url, max_pages = 0 }
    assert.is_nil(c)
    assert.equal("InvalidConfiguration", err.code)
    assert.matches("option 'max_pages' must be an integer between 1 and", err.message)
  end)
end)

describe("connect's numbers and credentials", function()
  local URL = "http://127.0.0.1:9"

  it("gives an error value naming the option and its range for each number out of range", function()
    local cases = {
      { { timeout = 0 }, "option 'timeout' must be a number between 0.001 and 86400 %(got 0%)" },
      { { timeout = -1 }, "option 'timeout' must be a number between 0.001 and 86400 %(got %-1%)" },
      { { timeout = 0 / 0 }, "option 'timeout' must be a number between 0.001 and 86400 %(got %-?nan%)" },
      { { connect_timeout = math.huge }, "option 'connect_timeout' must be a number between 0.001 and 86400" },
      { { stall_timeout = 0.0001 }, "option 'stall_timeout' must be a number between 1 and 86400" },
      { { max_retry_wait = -5 }, "option 'max_retry_wait' must be a number between 0 and 604800" },
      { { max_response_bytes = 0 }, "option 'max_response_bytes' must be an integer between 1 and" },
      { { max_header_bytes = 10.5 }, "option 'max_header_bytes' must be an integer between 1 and" },
    }
    for _, case in ipairs(cases) do
      local o = case[1]
      o.access_token, o.graph_url = "t", URL
      local ok, c, err = pcall(autopilot.connect, o)
      assert.is_true(ok, "raised: " .. tostring(c))
      assert.is_nil(c)
      assert.equal("InvalidConfiguration", err.code)
      assert.matches(case[2], err.message)
    end
  end)

  it("gives an error value for an empty or control-character client_id or secret, never quoting it", function()
    local cases = {
      { { client_id = "", client_secret = "s3cr3t" }, "client_id must not be empty" },
      { { client_id = "a\nb", client_secret = "s3cr3t" }, "client_id must not contain control characters" },
      { { client_id = "app", client_secret = "s3cr3t\r\n" }, "client_secret must not contain control characters" },
      { { client_id = "app", client_secret = "" }, "client_secret must not be empty" },
    }
    for _, case in ipairs(cases) do
      local o = case[1]
      o.tenant, o.graph_url, o.login_url = "contoso.onmicrosoft.com", URL, URL
      local ok, c, err = pcall(autopilot.connect, o)
      assert.is_true(ok, "raised: " .. tostring(c))
      assert.is_nil(c)
      assert.equal("InvalidConfiguration", err.code)
      assert.matches(case[2], err.message)
      assert.is_nil(tostring(err):find("s3cr3t", 1, true))
    end
  end)

  it("passes max_response_bytes and on_retry to the core", function()
    local tenant <close> = assert(emulator.start { devices = 30, seed = 2 })
    local function connect(extra)
      local o = { tenant = tenant.tenant, client_id = tenant.client_id, client_secret = tenant.client_secret,
                  graph_url = tenant.url, login_url = tenant.url, max_retries = 1, backoff_base = nil }
      for k, v in pairs(extra) do o[k] = v end
      return assert(autopilot.connect(o))
    end
    local small <close> = connect { max_response_bytes = 1024 }
    local list, err = small:list_devices()
    assert.is_nil(list)
    assert.equal("FILESIZE_EXCEEDED", err.code)
    assert.matches("max_response_bytes", tostring(err))
    tenant:configure { faults = { ["503"] = 1 } }
    local events = {}
    local told <close> = connect { on_retry = function(e) events[#events + 1] = e end }
    local _, terr = told:list_devices()
    assert.equal(503, terr.status)
    assert.equal(1, #events)
    assert.equal(503, events[1].status)
    assert.equal("HTTP 503 (service unavailable)", events[1].reason)
  end)
end)
