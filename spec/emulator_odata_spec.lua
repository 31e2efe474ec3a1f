-- Unit specs of the emulated tenant's pure parts: OData filters and the skip token, the store's
-- cursor, the device generator, the seeded streams, the clock, throttle and fault bookkeeping.
local odata = require "autopilot.emulator.odata"
local store_mod = require "autopilot.emulator.store"
local generator = require "autopilot.emulator.generator"
local random = require "autopilot.emulator.random"
local clock_mod = require "autopilot.emulator.clock"
local throttle_mod = require "autopilot.emulator.throttle"
local faults_mod = require "autopilot.emulator.faults"
local latency_mod = require "autopilot.emulator.latency"
local log_mod = require "autopilot.emulator.log"
local graph = require "autopilot.emulator.graph"

local function dev(id, serial, extra)
  local d = generator.blank(id)
  d.serialNumber = serial
  for k, v in pairs(extra or {}) do d[k] = v end
  return d
end

describe("odata filter", function()
  local d = dev("1", "VMware-56 4d 51", { groupTag = "Kiosk", model = "Latitude 5440", displayName = "DESKTOP-1",
    userPrincipalName = "adele@contoso.com" })

  local function eval(f)
    local p, err = odata.compile_filter(f)
    if not p then return nil, err end
    return p(d)
  end

  it("matches contains and startswith without regard to case", function()
    assert.is_true(eval("contains(serialNumber,'vmware')"))
    assert.is_true(eval("contains(serialNumber,'56 4d')"))
    assert.is_false(eval("contains(serialNumber,'zz')"))
    assert.is_true(eval("startswith(groupTag,'KI')"))
    assert.is_false(eval("startswith(groupTag,'iosk')"))
    assert.is_true(eval("contains(userPrincipalName,'@contoso')"))
    assert.is_true(eval("startswith(displayName,'desktop')"))
    assert.is_true(eval("contains(SerialNumber,'VM')"))
  end)

  it("combines with and/or, and before or, and parentheses", function()
    assert.is_true(eval("contains(model,'x') or contains(model,'lat')"))
    assert.is_false(eval("contains(model,'x') and contains(model,'lat')"))
    assert.is_true(eval("contains(model,'x') and contains(model,'y') or startswith(groupTag,'k')"))
    assert.is_false(eval("contains(model,'x') and (contains(model,'y') or startswith(groupTag,'k'))"))
    assert.is_true(eval("(contains(model,'lat') or contains(model,'x')) AND startswith(groupTag,'Kio')"))
  end)

  it("unescapes doubled quotes in literals", function()
    local e = dev("2", "O'Brien")
    assert.is_true(odata.compile_filter("contains(serialNumber,'o''b')")(e))
  end)

  it("refuses eq and the other operators as unsupported", function()
    for _, f in ipairs({ "serialNumber eq 'X'", "id eq 'x'", "groupTag ne 'a'",
      "contains(model,'a') and model eq 'b'" }) do
      local p, err = odata.compile_filter(f)
      assert.is_nil(p)
      assert.equal("unsupported", err.kind)
    end
  end)

  it("refuses a contains value holding a hyphen, but not startswith", function()
    local p, err = odata.compile_filter("contains(serialNumber,'ec2a1bbf-7e9f')")
    assert.is_nil(p)
    assert.equal("hyphen", err.kind)
    assert.is_function(odata.compile_filter("startswith(serialNumber,'VMware-56')"))
    assert.is_true(odata.compile_filter("startswith(serialNumber,'VMware-56')")(d))
  end)

  it("refuses unknown properties, functions, not, and bad syntax", function()
    local _, e1 = odata.compile_filter("contains(manufacturer,'Dell')")
    assert.equal("property", e1.kind)
    assert.matches("manufacturer", e1.message)
    local _, e2 = odata.compile_filter("endswith(model,'a')")
    assert.equal("unsupported", e2.kind)
    local _, e3 = odata.compile_filter("not contains(model,'a')")
    assert.equal("unsupported", e3.kind)
    for _, f in ipairs({ "contains(model,'a'", "contains(model,'a') or", "(contains(model,'a')", "contains(model,'a)",
      "contains(model,a)", "", "contains(model,'a') contains(model,'b')" }) do
      local p, err = odata.compile_filter(f)
      assert.is_nil(p, f)
      assert.equal("syntax", err.kind, f)
    end
  end)
end)

describe("odata query and skip token", function()
  it("parses the query with or without $, decoding escapes", function()
    local list, map = odata.parse_query("%24top=5&filter=contains(serialNumber%2C%27a%20b%27)&x=1")
    assert.equal("5", map["$top"])
    assert.equal("contains(serialNumber,'a b')", map["$filter"])
    assert.equal(3, #list)
    assert.equal("%24top=5", list[1].raw)
  end)

  it("round-trips serials with spaces, quotes and hyphens through the skip token", function()
    for _, s in ipairs({ "ABC", "VMware-56 4d 51 82-01 de", "O'Brien", "a&b=c?d", "Default string" }) do
      local item = odata.skiptoken_item(s)
      local _, map = odata.parse_query(item)
      assert.equal(s, odata.parse_skiptoken(map["$skiptoken"]))
    end
    assert.is_nil(odata.parse_skiptoken("garbage"))
    assert.is_nil(odata.parse_skiptoken("LastSerialNumber='a'b'"))
  end)

  it("replaces the cursor and keeps the other items in order", function()
    local list = odata.parse_query("$top=2&$skiptoken=LastSerialNumber='A'&$filter=x")
    assert.equal("$top=2&$skiptoken=LastSerialNumber='B'&$filter=x", odata.with_skiptoken(list, "B"))
    assert.equal("$top=2&$skiptoken=LastSerialNumber='B'", odata.with_skiptoken(odata.parse_query("$top=2"), "B"))
  end)
end)

describe("store cursor", function()
  local function make()
    return assert(store_mod.new({ dev("c", "B"), dev("a", "A"), dev("d", "C"), dev("b", "B"), dev("e", "D") }))
  end

  it("orders by serial then id and pages inclusively from the cursor", function()
    local s = make()
    local page, more = s:page(nil, 2)
    assert.same({ "a", "b" }, { page[1].id, page[2].id })
    assert.is_true(more)
    page, more = s:page("B", 2)              -- the boundary serial comes again
    assert.same({ "b", "c" }, { page[1].id, page[2].id })
    assert.is_true(more)
    page, more = s:page("C", 5)
    assert.same({ "d", "e" }, { page[1].id, page[2].id })
    assert.is_false(more)
    page = s:page("BB", 1)
    assert.equal("d", page[1].id)
    page, more = s:page("Z", 3)
    assert.equal(0, #page)
    assert.is_false(more)
  end)

  it("with top 1 returns the same device for the same cursor forever", function()
    local s = make()
    local p1 = s:page("C", 1)
    local p2 = s:page(p1[1].serialNumber, 1)
    assert.equal(p1[1].id, p2[1].id)
  end)

  it("filters while paging and reports whether more matches follow", function()
    local s = make()
    local page, more = s:page(nil, 1, function(d) return d.serialNumber == "D" end)
    assert.equal("e", page[1].id)
    assert.is_false(more)
  end)

  it("delays writes and deletes by the consistency delay", function()
    local s = make()
    s:set_delay(10)
    assert.is_true(s:update("a", { groupTag = "X" }, 100))
    assert.equal("", s:get("a").groupTag)
    assert.equal("X", s:get_current("a").groupTag)
    assert.is_true(s:delete("b", 100))
    assert.is_nil(s:get_current("b"))
    assert.is_table(s:get("b"))
    assert.is_false(s:update("b", { groupTag = "Y" }, 101))
    s:settle(109.9)
    assert.equal("", s:get("a").groupTag)
    s:settle(110)
    assert.equal("X", s:get("a").groupTag)
    assert.is_nil(s:get("b"))
    assert.equal(4, #s:page(nil, 10))
    assert.equal(2, s.writes.a + s.writes.b)
  end)

  it("never lets an older write hide a newer one when the delay shrinks", function()
    local s = make()
    s:set_delay(100)
    s:update("a", { groupTag = "old" }, 0)
    s:set_delay(1)
    s:update("a", { groupTag = "new" }, 10)
    s:settle(11)
    assert.equal("new", s:get("a").groupTag)
    s:settle(200)
    assert.equal("new", s:get("a").groupTag)
  end)

  it("filters on the values written last (no stale lower-case cache)", function()
    local s = make()
    local pred = odata.compile_filter("startswith(groupTag,'new')")
    assert.equal(0, #s:page(nil, 10, pred))
    s:update("a", { groupTag = "NewTag" }, 1)
    assert.equal("a", s:page(nil, 10, pred)[1].id)
    s:set_delay(5)
    s:update("a", { groupTag = "Old" }, 2)
    assert.equal(1, #s:page(nil, 10, pred))
    s:settle(7)
    assert.equal(0, #s:page(nil, 10, pred))
  end)

  it("refuses duplicate ids", function()
    local s, err = store_mod.new({ dev("a", "1"), dev("a", "2") })
    assert.is_nil(s)
    assert.matches("duplicate", err)
  end)
end)

describe("device generator", function()
  it("is deterministic for a seed and differs between seeds", function()
    local a, b, c = generator.generate(200, 7), generator.generate(200, 7), generator.generate(200, 8)
    assert.same(a, b)
    assert.not_equal(a[1].id, c[1].id)
  end)

  it("produces the real service's quirks", function()
    local list = generator.generate(2000, 42)
    local seen, dup, spaces, hyphens, junk, zero, assigned, tags, models = {}, 0, 0, 0, 0, 0, 0, {}, {}
    for _, d in ipairs(list) do
      for _, f in ipairs(generator.V1_FIELDS) do assert.is_string(d[f]) end
      for _, f in ipairs(generator.BETA_FIELDS) do assert.is_string(d[f]) end
      if seen[d.serialNumber] then dup = dup + 1 end
      seen[d.serialNumber] = true
      if d.serialNumber:find(" ") then spaces = spaces + 1 end
      if d.serialNumber:find("-") then hyphens = hyphens + 1 end
      if d.serialNumber == "Default string" then junk = junk + 1 end
      if d.managedDeviceId == generator.ZERO_GUID then zero = zero + 1 end
      if d.userPrincipalName ~= "" then
        assigned = assigned + 1
        assert.is_true(d.addressableUserName ~= "")
      end
      tags[d.groupTag] = true
      models[d.model] = true
    end
    assert.is_true(dup > 0 and spaces > 0 and hyphens > 0 and junk > 0 and zero > 0)
    assert.is_true(assigned > 2000 * 0.4 and assigned < 2000 * 0.8)
    local ntags, nmodels = 0, 0
    for _ in pairs(tags) do ntags = ntags + 1 end
    for _ in pairs(models) do nmodels = nmodels + 1 end
    assert.is_true(ntags >= 4 and nmodels >= 5)
  end)

  it("loads CSV with Intune's export columns and property-name columns", function()
    local csv = 'Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User,model\r\n'
      .. '"SN 1",,T0FBQQ==,Kiosk,a@contoso.com,"Surface, Pro"\r\n'
      .. 'SN2,XYZ,,,,\r\n'
    local list = assert(generator.parse(csv, 3))
    assert.equal(2, #list)
    assert.equal("SN 1", list[1].serialNumber)
    assert.equal("Kiosk", list[1].groupTag)
    assert.equal("a@contoso.com", list[1].userPrincipalName)
    assert.equal("Surface, Pro", list[1].model)
    assert.equal("XYZ", list[2].productKey)
    assert.equal("", list[2].groupTag)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", list[2].id)
  end)

  it("loads a JSON array, keeping given ids and filling the rest", function()
    local list = assert(generator.parse('[{"id":"x1","serialNumber":"A","groupTag":null},{"serialNumber":"B"}]'))
    assert.equal("x1", list[1].id)
    assert.equal("", list[1].groupTag)
    assert.equal("notContacted", list[2].enrollmentState)
    assert.is_nil(generator.parse("[1,2]"))
    assert.is_nil(generator.parse("[{"))
  end)
end)

describe("seeded streams", function()
  it("repeat for a seed and differ by name", function()
    local a, b, c = random.new(5, "x"), random.new(5, "x"), random.new(5, "y")
    local sa, sc = {}, {}
    for i = 1, 10 do sa[i] = a:next64(); assert.equal(sa[i], b:next64()); sc[i] = c:next64() end
    assert.not_same(sa, sc)
  end)

  it("gives floats in [0,1), ints in range and version-4 shaped GUIDs", function()
    local r = random.new(1)
    for _ = 1, 1000 do
      local f = r:float()
      assert.is_true(f >= 0 and f < 1)
      local n = r:int(3, 5)
      assert.is_true(n >= 3 and n <= 5)
    end
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", r:guid())
  end)
end)

describe("clock", function()
  it("scales, rebases without jumping back, and advances", function()
    local c = clock_mod.new(100, 10)
    assert.equal(0, c:now(100))
    assert.equal(50, c:now(105))
    c:set_scale(105, 1)
    assert.equal(50, c:now(105))
    assert.equal(52, c:now(107))
    c:advance(600)
    assert.equal(652, c:now(107))
    c:set_scale(107, 4)
    assert.equal(2.5, c:to_real(10))
  end)
end)

describe("throttle", function()
  it("spends per-app and per-tenant write budgets in fixed windows", function()
    local t = throttle_mod.new({ app_writes = 2, tenant_writes = 3, window = 20 })
    assert.is_nil(t:admit("a", true, 1))
    assert.is_nil(t:admit("a", true, 2))
    assert.equal(15, t:admit("a", true, 5))  -- app budget spent: wait for the window's end
    assert.is_nil(t:admit("a", false, 5))    -- reads have their own budget
    assert.is_nil(t:admit("b", true, 6))
    assert.equal(14, t:admit("b", true, 6))  -- tenant budget spent
    assert.is_nil(t:admit("a", true, 20))    -- a new window
    assert.equal(2, t.throttled)
  end)

  it("is off by default and when configured false", function()
    local t = throttle_mod.new()
    for i = 1, 5000 do assert.is_nil(t:admit("a", true, i / 1000)) end
    t:configure({ app_requests = 1 })
    assert.is_nil(t:admit("a", false, 10))
    assert.is_number(t:admit("a", false, 10))
    t:configure(false)
    assert.is_nil(t:admit("a", false, 10))
  end)

  it("counts retries before the Retry-After as early, by client-request-id first", function()
    local t = throttle_mod.new(true)
    t:remember("crid-1", "a POST /x", 10, 0)
    assert.is_true(t:retry_check("crid-1", "a POST /other", 5))
    t:remember(nil, "a POST /y", 10, 0)
    assert.is_false(t:retry_check(nil, "a POST /y", 10))
    assert.is_nil(t:retry_check(nil, "a POST /y", 10)) -- consumed
    assert.equal(1, t.early)
  end)

  it("validates its settings and picks Retry-After forms by weight", function()
    assert.has_error(function() throttle_mod.new({ app_writes = -1 }) end)
    assert.has_error(function() throttle_mod.new({ bogus = 1 }) end)
    assert.has_error(function() throttle_mod.new({ retry_after = { sometimes = 1 } }) end)
    local t = throttle_mod.new({ retry_after = { integer = 1, decimal = 1, date = 1, absent = 1 } })
    local rng, seen = random.new(1), {}
    for _ = 1, 200 do seen[t:form(rng)] = true end
    assert.same({ integer = true, decimal = true, date = true, absent = true }, seen)
  end)
end)

describe("faults", function()
  it("draws the same faults for the same seed", function()
    local cfg = { ["503"] = 0.2, ["500"] = 0.1, reset = 0.05 }
    local a, b = faults_mod.new(cfg, 9), faults_mod.new(cfg, 9)
    local sa, sb, n = {}, {}, 0
    for i = 1, 500 do
      sa[i] = a:draw() or "-"
      sb[i] = b:draw() or "-"
      if sa[i] ~= "-" then n = n + 1 end
    end
    assert.same(sa, sb)
    assert.is_true(n > 100 and n < 250)
    assert.equal(n, (a.injected["503"] or 0) + (a.injected["500"] or 0) + (a.injected.reset or 0))
  end)

  it("serves targets in order before random draws, then nothing", function()
    local f = faults_mod.new({ targets = { dev1 = { "503", "reset" } } }, 1)
    assert.equal("503", f:draw("dev1"))
    assert.equal("reset", f:draw("dev1"))
    assert.is_nil(f:draw("dev1"))
    assert.is_nil(f:draw("dev2"))
  end)

  it("rejects unknown kinds and bad rates", function()
    assert.has_error(function() faults_mod.new({ ["418"] = 0.1 }, 1) end)
    assert.has_error(function() faults_mod.new({ ["503"] = 2 }, 1) end)
    assert.has_error(function() faults_mod.new({ ["503"] = 0.6, ["500"] = 0.6 }, 1) end)
    assert.has_error(function() faults_mod.new({ targets = { x = { "boom" } } }, 1) end)
  end)
end)

describe("latency", function()
  it("is fixed, lognormal around the median, or off", function()
    local l = latency_mod.new(250, 1)
    assert.equal(0.25, l:sample())
    l:configure({ median = 100, p99 = 1000 })
    local xs = {}
    for i = 1, 4001 do xs[i] = l:sample() end
    table.sort(xs)
    assert.is_true(xs[2001] > 0.08 and xs[2001] < 0.125)
    assert.is_true(xs[3961] > 0.6 and xs[3961] < 1.6)
    l:configure(false)
    assert.is_nil(l:sample())
    assert.has_error(function() l:configure({ median = 100, p99 = 10 }) end)
  end)
end)

describe("request log", function()
  it("keeps the newest entries and counts the dropped ones", function()
    local log = log_mod.new(3)
    for i = 1, 5 do log:push({ n = i }) end
    local l = log:list()
    assert.same({ 3, 4, 5 }, { l[1].n, l[2].n, l[3].n })
    assert.equal(2, log:dropped())
    assert.same({ 5 }, { log:list(1)[1].n })
    log:resize(2)
    l = log:list()
    assert.same({ 4, 5 }, { l[1].n, l[2].n })
  end)
end)

describe("graph routes and permissions", function()
  it("routes v1.0 and beta paths, actions in any case, and beta's nested paths", function()
    local P = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
    assert.equal("list", graph.route("GET", P).name)
    assert.equal("get", graph.route("GET", P .. "/abc").name)
    assert.equal("delete", graph.route("DELETE", P .. "/abc").name)
    local op = graph.route("POST", P .. "/abc/UpdateDeviceProperties")
    assert.equal("updateDeviceProperties", op.name)
    assert.is_true(op.write)
    op = graph.route("POST", "/beta/deviceManagement/windowsAutopilotDeviceIdentities/a/deploymentProfile/"
      .. "assignedDevices/b/unassignUserFromDevice")
    assert.same({ "a", "b", true }, { op.outer, op.id, op.read_ok })
    local _, err = graph.route("POST", P .. "/a/deploymentProfile/assignedDevices/b/unassignUserFromDevice")
    assert.equal(400, err.status)
    _, err = graph.route("PATCH", P .. "/a")
    assert.equal(405, err.status)
    _, err = graph.route("GET", P .. "/a/unassignUserFromDevice")
    assert.equal(405, err.status)
    _, err = graph.route("POST", P .. "/a/wipe")
    assert.equal(400, err.status)
    assert.equal("batch", graph.route("POST", "/beta/$batch").name)
    assert.equal("sync", graph.route("POST", "/v1.0/deviceManagement/windowsAutopilotSettings/sync").name)
  end)

  it("needs ReadWrite.All to write, Read.All or ReadWrite.All to read, from roles or scp", function()
    local RW, RO = "DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementServiceConfig.Read.All"
    local list = graph.route("GET", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities")
    local un1 = graph.route("POST", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/a/unassignUserFromDevice")
    local unb = graph.route("POST", "/beta/deviceManagement/windowsAutopilotDeviceIdentities/a/unassignUserFromDevice")
    local upd = graph.route("POST", "/beta/deviceManagement/windowsAutopilotDeviceIdentities/a/updateDeviceProperties")
    assert.is_true(graph.permitted({ roles = { RO } }, list))
    assert.is_true(graph.permitted({ scp = "User.Read " .. RW }, list))
    assert.is_false(graph.permitted({ scp = "User.Read" }, list))
    assert.is_false(graph.permitted({ roles = { RO } }, un1))
    assert.is_true(graph.permitted({ roles = { RO } }, unb))
    assert.is_false(graph.permitted({ scp = RO }, upd))
    assert.is_true(graph.permitted({ scp = RW }, upd))
    assert.is_false(graph.permitted({ scp = RW .. "x" }, upd))
  end)
end)
