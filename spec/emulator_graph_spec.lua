-- Behaviour specs of the emulated Graph over real sockets: the emulator (C host + Lua tenant) on
-- loopback, curl as the peer, tokens from the emulated identity platform.
local cjson = require "cjson"
local emulator = require "autopilot.emulator"
local peer = require "graph_peer"
local files = require "files"
local tls = require "tls"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local PB = "/beta/deviceManagement/windowsAutopilotDeviceIdentities"
local RO_APP = "11111111-2222-4333-8444-555555555555"
local NONE_APP = "22222222-3333-4444-8555-666666666666"
local GUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local ODATA_CT = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

local function start(opts)
  opts = opts or {}
  opts.apps = opts.apps or {
    { client_id = RO_APP, client_secret = "ro-secret", roles = { "DeviceManagementServiceConfig.Read.All" } },
    { client_id = NONE_APP, client_secret = "none-secret", roles = { "User.Read.All" } },
  }
  return assert(emulator.start(opts))
end

local function all_pages(get, first)
  local pages, url = {}, first
  while url do
    local r = get("GET", url)
    assert.equal(200, r.status)
    pages[#pages + 1] = r.json
    local nxt = r.json["@odata.nextLink"]
    url = nxt and nxt:gsub("^https?://[^/]+", "")
    if #pages > 200 then error("runaway paging") end
  end
  return pages
end

describe("emulated Graph: listing and paging", function()
  local emu, get
  setup(function()
    emu = start({ devices = 1205, seed = 42 })
    get = peer.connect(emu)
  end)
  teardown(function() emu:stop() end)

  it("pages 1000 by default with an absolute next link carrying LastSerialNumber", function()
    local r = get("GET", P1)
    assert.equal(200, r.status)
    assert.equal(1000, #r.json.value)
    local link = r.json["@odata.nextLink"]
    assert.matches("^" .. emu.url:gsub("%p", "%%%0") .. P1:gsub("%p", "%%%0") .. "%?%$skiptoken=LastSerialNumber='",
      link)
    assert.equal(ODATA_CT, r.headers["content-type"])
    assert.equal("4.0", r.headers["odata-version"])
    assert.matches("/v1.0/%$metadata#deviceManagement/windowsAutopilotDeviceIdentities$", r.json["@odata.context"])
  end)

  it("answers $count with the count as plain text, honouring $filter, never taking it for a device id", function()
    for _, base in ipairs({ P1, PB }) do
      local r = get("GET", base .. "/$count")
      assert.equal(200, r.status)
      assert.matches("^text/plain", r.headers["content-type"])
      assert.equal("1205", r.body)
    end
    local want = 0
    for _, d in ipairs(emu:state({ log = false }).devices) do
      if d.groupTag:sub(1, 5) == "Kiosk" then want = want + 1 end
    end
    assert.is_true(want > 0 and want < 1205)
    local f = "$filter=" .. peer.escape("startswith(groupTag,'Kiosk')")
    assert.equal(tostring(want), get("GET", P1 .. "/$count?" .. f).body)
    assert.equal(405, get("POST", P1 .. "/$count").status)
  end)

  it("adds @odata.count for $count=true, the whole filtered set on every page", function()
    local pages = all_pages(get, P1 .. "?$count=true&$top=500")
    assert.equal(3, #pages)
    for _, page in ipairs(pages) do assert.equal(1205, page["@odata.count"]) end
    assert.is_nil(get("GET", P1 .. "?$top=1").json["@odata.count"])
    assert.equal(400, get("GET", P1 .. "?$count=maybe").status)
  end)

  it("answers $select with HTTP 500 as the service does, and honours it with the quirk off", function()
    local r = get("GET", P1 .. "?$select=serialNumber")
    assert.equal(500, r.status)
    assert.equal("InternalServerError", r.json.error.code)
    assert.is_string(r.json.error.innerError["request-id"])
    emu:configure({ select_500 = false })
    r = get("GET", P1 .. "?$top=2&$select=serialNumber,groupTag")
    emu:configure({ select_500 = true })
    assert.equal(200, r.status)
    for _, d in ipairs(r.json.value) do
      local keys = {}
      for k in pairs(d) do if k:sub(1, 1) ~= "@" then keys[#keys + 1] = k end end
      table.sort(keys)
      assert.same({ "groupTag", "id", "serialNumber" }, keys)
    end
    assert.has_error(function() emu:configure({ select_500 = "yes" }) end)
  end)

  it("repeats the boundary device on the next page (inclusive cursor) and reaches every device", function()
    local pages = all_pages(get, P1 .. "?$top=100")
    local ids, n = {}, 0
    for i, page in ipairs(pages) do
      for _, d in ipairs(page.value) do
        if not ids[d.id] then n = n + 1 end
        ids[d.id] = true
      end
      if i > 1 then
        local prev = pages[i - 1].value
        assert.equal(prev[#prev].serialNumber, page.value[1].serialNumber)
      end
    end
    assert.equal(1205, n)
    assert.is_nil(pages[#pages]["@odata.nextLink"])
  end)

  it("with $top=1 gives back the request's own URL as the next link, forever", function()
    local r1 = get("GET", P1 .. "?$top=1")
    local link = r1.json["@odata.nextLink"]
    local path = link:gsub("^https?://[^/]+", "")
    local r2 = get("GET", path)
    assert.equal(link, r2.json["@odata.nextLink"])
    local r3 = get("GET", path)
    assert.equal(link, r3.json["@odata.nextLink"])
    assert.equal(r2.json.value[1].id, r3.json.value[1].id)
  end)

  it("builds the next link from the Host header", function()
    local r = get("GET", P1 .. "?$top=5", { headers = { Host = "graph.example.test:8443" } })
    assert.matches("^http://graph%.example%.test:8443/v1%.0/", r.json["@odata.nextLink"])
  end)

  it("filters with contains and startswith, and/or and parentheses", function()
    local r = get("GET", P1 .. "?$filter=" .. peer.escape("contains(serialNumber,'VMware')"))
    assert.equal(200, r.status)
    assert.is_true(#r.json.value > 0)
    for _, d in ipairs(r.json.value) do assert.matches("[Vv][Mm][Ww][Aa][Rr][Ee]", d.serialNumber) end
    r = get("GET", P1 .. "?$filter=" .. peer.escape("(startswith(groupTag,'Kiosk') or startswith(groupTag,'Sales'))"
      .. " and contains(model,'Latitude')"))
    assert.equal(200, r.status)
    assert.is_true(#r.json.value > 0)
    for _, d in ipairs(r.json.value) do
      assert.is_true(d.groupTag == "Kiosk" or d.groupTag == "Sales")
      assert.matches("Latitude", d.model)
    end
  end)

  it("finds a serial with spaces through contains, a substring match", function()
    local state = emu:state()
    local target
    for _, d in ipairs(state.devices) do if d.serialNumber:find(" ") then target = d break end end
    local r = get("GET", P1 .. "?$filter=" .. peer.escape("contains(serialNumber,'" .. target.serialNumber:sub(8, 20)
      .. "')"))
    assert.equal(200, r.status)
    local found = false
    for _, d in ipairs(r.json.value) do if d.id == target.id then found = true end end
    assert.is_true(found)
  end)

  it("rejects eq with Intune's wrapped 400", function()
    local r = get("GET", P1 .. "?$filter=" .. peer.escape("serialNumber eq 'ABC'"))
    assert.equal(400, r.status)
    assert.equal("BadRequest", r.json.error.code)
    local inner = peer.intune(r)
    assert.equal(3, inner._version)
    assert.matches("Activity ID: " .. r.headers["request-id"]:gsub("%-", "%%-"), inner.Message)
    assert.matches("fef%..*windowsAutopilotDeviceIdentities%?api%-version=", inner.Message)
  end)

  it("rejects a contains value with a hyphen with a 400, as the service did", function()
    local r = get("GET", P1 .. "?$filter=" .. peer.escape("contains(serialNumber,'ec2a1bbf-7e9f')"))
    assert.equal(400, r.status)
    assert.equal(3, peer.intune(r)._version)
  end)

  it("rejects an unknown property and bad syntax with Graph's plain 400", function()
    local r = get("GET", P1 .. "?$filter=" .. peer.escape("contains(manufacturer,'Dell')"))
    assert.equal(400, r.status)
    assert.matches("Could not find a property named 'manufacturer'", r.json.error.message)
    r = get("GET", P1 .. "?$filter=" .. peer.escape("contains(model,'x'"))
    assert.equal(400, r.status)
    r = get("GET", P1 .. "?$top=abc")
    assert.equal(400, r.status)
    r = get("GET", P1 .. "?$skiptoken=nonsense")
    assert.equal(400, r.status)
  end)
end)


describe("emulated Graph: devices", function()
  local emu, call, devices
  local function pick(pred)
    for _, d in ipairs(devices) do if pred(d) then return d end end
  end
  before_each(function()
    emu = start({ devices = 60, seed = 7 })
    call = peer.connect(emu)
    devices = emu:state().devices
  end)
  after_each(function() emu:stop() end)

  it("gets a device with v1.0 properties only in v1.0 and beta's in beta", function()
    local d = devices[1]
    local r = call("GET", P1 .. "/" .. d.id)
    assert.equal(200, r.status)
    assert.equal(d.serialNumber, r.json.serialNumber)
    assert.equal("#microsoft.graph.windowsAutopilotDeviceIdentity", r.json["@odata.type"])
    assert.is_nil(r.json.deploymentProfileAssignmentStatus)
    assert.is_nil(r.json.deviceFriendlyName)
    assert.equal("string", type(r.json.displayName))
    assert.equal(d.id, call("GET", P1 .. "/" .. d.id:upper()).json.id)
    local b = call("GET", PB .. "/" .. d.id)
    assert.equal(200, b.status)
    assert.is_string(b.json.deploymentProfileAssignmentStatus)
    assert.is_string(b.json.azureAdDeviceId)
    assert.equal(d.serialNumber, b.json.serialNumber)
  end)

  it("answers 404 ResourceNotFound for an unknown id", function()
    local r = call("GET", P1 .. "/00000000-1111-2222-3333-444444444444")
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
    assert.equal(3, peer.intune(r)._version)
  end)

  it("unassigns the user (204, no body), clearing userPrincipalName and addressableUserName", function()
    local d = pick(function(x) return x.userPrincipalName ~= "" end)
    local r = call("POST", P1 .. "/" .. d.id .. "/unassignUserFromDevice")
    assert.equal(204, r.status)
    assert.equal("", r.body)
    local g = call("GET", P1 .. "/" .. d.id)
    assert.equal("", g.json.userPrincipalName)
    assert.equal("", g.json.addressableUserName)
    local st = emu:state({ device = d.id })
    assert.equal("", st.device.userPrincipalName)
    assert.equal(1, st.device_writes)
    assert.equal(1, st.writes[d.id])
  end)

  it("matches action names without regard to case and accepts an empty JSON object", function()
    local d = pick(function(x) return x.userPrincipalName ~= "" end)
    assert.equal(204, call("POST", P1 .. "/" .. d.id .. "/UnassignUserFromDevice").status)
    assert.equal(204, call("POST", P1 .. "/" .. d.id .. "/UNASSIGNUSERFROMDEVICE", { body = "{}" }).status)
  end)

  it("refuses parameters in unassign's body", function()
    local d = devices[2]
    local r = call("POST", P1 .. "/" .. d.id .. "/unassignUserFromDevice", { body = '{"userPrincipalName":"x"}' })
    assert.equal(400, r.status)
    assert.matches("not a valid parameter", r.json.error.message)
    r = call("POST", P1 .. "/" .. d.id .. "/unassignUserFromDevice", { body = "{not json" })
    assert.equal(400, r.status)
    assert.matches("Unable to read JSON request payload", r.json.error.message)
  end)

  it("answers 404 for unassign of an unknown device", function()
    local r = call("POST", P1 .. "/00000000-1111-2222-3333-444444444444/unassignUserFromDevice")
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
  end)

  it("assigns a user", function()
    local d = pick(function(x) return x.userPrincipalName == "" end)
    local r = call("POST", P1 .. "/" .. d.id .. "/assignUserToDevice",
      { body = cjson.encode({ userPrincipalName = "megan@contoso.com", addressableUserName = "Megan" }) })
    assert.equal(204, r.status)
    local g = call("GET", P1 .. "/" .. d.id)
    assert.equal("megan@contoso.com", g.json.userPrincipalName)
    assert.equal("Megan", g.json.addressableUserName)
    r = call("POST", P1 .. "/" .. d.id .. "/assignUserToDevice", { body = '{"userPrincipalName":"nobody"}' })
    assert.equal(400, r.status)
  end)

  it("updates device properties, beta's extra fields only in beta", function()
    local d = devices[3]
    local r = call("POST", P1 .. "/" .. d.id .. "/UpdateDeviceProperties",
      { body = cjson.encode({ groupTag = "Rehearsal", displayName = "LAB-01" }) })
    assert.equal(204, r.status)
    local g = call("GET", P1 .. "/" .. d.id)
    assert.equal("Rehearsal", g.json.groupTag)
    assert.equal("LAB-01", g.json.displayName)
    r = call("POST", P1 .. "/" .. d.id .. "/updateDeviceProperties", { body = '{"deviceFriendlyName":"Room"}' })
    assert.equal(400, r.status)
    r = call("POST", PB .. "/" .. d.id .. "/updateDeviceProperties",
      { body = '{"deviceFriendlyName":"Room","deviceAccountPassword":"p@ss"}' })
    assert.equal(204, r.status)
    g = call("GET", PB .. "/" .. d.id)
    assert.equal("Room", g.json.deviceFriendlyName)
    assert.equal("", g.json.deviceAccountPassword)
    local st = emu:state({ device = d.id })
    assert.not_equal("p@ss", st.device.deviceAccountPassword)
    r = call("POST", P1 .. "/00000000-1111-2222-3333-444444444444/updateDeviceProperties", { body = "{}" })
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
  end)

  it("deletes (204), then GET is 404, and DELETE of an unknown id is 400 'Cannot find device'", function()
    local d = devices[4]
    assert.equal(204, call("DELETE", P1 .. "/" .. d.id).status)
    assert.equal(404, call("GET", P1 .. "/" .. d.id).status)
    local r = call("DELETE", P1 .. "/" .. d.id)
    assert.equal(400, r.status)
    assert.matches("Cannot find device with ztd Id " .. d.id:gsub("%-", "%%-"), peer.intune(r).Message)
    assert.equal(59, emu:state({ devices = false }).device_count)
  end)

  it("serves beta's deploymentProfile/assignedDevices paths", function()
    local d = pick(function(x)
      return x.userPrincipalName ~= "" and x.deploymentProfileAssignmentStatus ~= "notAssigned"
    end)
    local nested = PB .. "/" .. d.id .. "/deploymentProfile/assignedDevices/" .. d.id
    assert.equal(200, call("GET", nested).status)
    assert.equal(204, call("POST", nested .. "/unassignUserFromDevice").status)
    assert.equal("", call("GET", PB .. "/" .. d.id).json.userPrincipalName)
    local none = pick(function(x) return x.deploymentProfileAssignmentStatus == "notAssigned" end)
    if none then
      assert.equal(404, call("POST", PB .. "/" .. none.id .. "/deploymentProfile/assignedDevices/" .. none.id
        .. "/unassignUserFromDevice").status)
    end
    local r = call("POST", P1 .. "/" .. d.id .. "/deploymentProfile/assignedDevices/" .. d.id
      .. "/unassignUserFromDevice")
    assert.equal(400, r.status)
    -- a device outside that device's profile is not among its assignedDevices
    local stranger = pick(function(x) return x.deploymentProfileAssignmentStatus == "notAssigned" end)
    if stranger then assert.equal(404, call("GET", PB .. "/" .. d.id .. "/deploymentProfile/assignedDevices/"
      .. stranger.id).status) end
    assert.equal(204, call("DELETE", nested).status)
    assert.equal(404, call("GET", PB .. "/" .. d.id).status)
  end)

  it("answers wrong methods with 405 and an Allow header", function()
    local r = call("PATCH", P1 .. "/" .. devices[1].id, { body = "{}" })
    assert.equal(405, r.status)
    assert.equal("GET, DELETE", r.headers["allow"])
    assert.equal(405, call("GET", P1 .. "/" .. devices[1].id .. "/unassignUserFromDevice").status)
    assert.equal(405, call("DELETE", P1).status)
    assert.equal(405, call("GET", "/v1.0/$batch").status)
  end)
end)

describe("emulated Graph: headers and errors", function()
  local emu, call
  setup(function()
    emu = start({ devices = 10, seed = 3 })
    call = peer.connect(emu)
  end)
  teardown(function() emu:stop() end)

  it("carries request-id, client-request-id, x-ms-ags-diagnostic and HSTS on every answer", function()
    for _, r in ipairs({ call("GET", P1), call("GET", P1 .. "/nope"), peer.client(emu, nil)("GET", P1) }) do
      assert.matches(GUID, r.headers["request-id"])
      assert.equal(r.headers["request-id"], r.headers["client-request-id"])
      local diag = cjson.decode(r.headers["x-ms-ags-diagnostic"])
      assert.is_string(diag.ServerInfo.DataCenter)
      assert.is_string(diag.ServerInfo.RoleInstance)
      assert.matches("max%-age=", r.headers["strict-transport-security"])
      assert.is_string(r.headers["date"])
    end
    local a, b = call("GET", P1), call("GET", P1)
    assert.not_equal(a.headers["request-id"], b.headers["request-id"])
  end)

  it("echoes the caller's client-request-id, also inside innerError", function()
    local crid = "5d9a3b2c-1111-4222-8333-444455556666"
    local r = call("GET", P1 .. "/nope", { headers = { ["client-request-id"] = crid } })
    assert.equal(crid, r.headers["client-request-id"])
    assert.equal(crid, r.json.error.innerError["client-request-id"])
    assert.equal(r.headers["request-id"], r.json.error.innerError["request-id"])
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$", r.json.error.innerError.date)
  end)

  it("answers 401 InvalidAuthenticationToken for a missing or bad token", function()
    local r = peer.client(emu, nil)("GET", P1)
    assert.equal(401, r.status)
    assert.equal("InvalidAuthenticationToken", r.json.error.code)
    assert.is_string(r.headers["www-authenticate"])
    r = peer.client(emu, "not.a.token")("GET", P1)
    assert.equal(401, r.status)
    assert.equal("InvalidAuthenticationToken", r.json.error.code)
  end)

  it("answers 403 Forbidden (Intune-wrapped) without the permission; Read.All may read and beta-unassign", function()
    local ro = peer.connect(emu, RO_APP, "ro-secret")
    local id = emu:state().devices[1].id
    assert.equal(200, ro("GET", P1).status)
    local r = ro("POST", P1 .. "/" .. id .. "/unassignUserFromDevice")
    assert.equal(403, r.status)
    assert.equal("Forbidden", r.json.error.code)
    assert.matches("ReadWrite%.All", peer.intune(r).Message)
    assert.equal(403, ro("POST", PB .. "/" .. id .. "/updateDeviceProperties", { body = "{}" }).status)
    assert.equal(204, ro("POST", PB .. "/" .. id .. "/unassignUserFromDevice").status)
    local none = peer.connect(emu, NONE_APP, "none-secret")
    assert.equal(403, none("GET", P1).status)
  end)

  it("answers unknown segments with 400 and unknown roots with 404", function()
    assert.equal(400, call("GET", "/v1.0/deviceManagement/managedDevices").status)
    assert.equal(400, call("GET", "/v2.0/deviceManagement").status)
    assert.equal(404, call("GET", "/nothing/here").status)
  end)

  it("compresses with gzip when asked", function()
    local r = call("GET", P1, { compressed = true })
    assert.equal(200, r.status)
    assert.equal("gzip", r.headers["content-encoding"])
    assert.equal(10, #r.json.value)
  end)

  it("logs requests without tokens or secrets", function()
    local token = peer.token(emu)
    peer.client(emu, token)("GET", P1 .. "?$top=1", { headers = { ["client-request-id"] = "crid-log-1",
      ["Retry-Attempt"] = "2" } })
    local st = emu:state({ devices = false })
    local text = cjson.encode(st)
    assert.is_nil(text:find(token, 1, true))
    assert.is_nil(text:find(emu.client_secret, 1, true))
    local last = st.log[#st.log]
    assert.equal("GET", last.method)
    assert.equal("/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$top=1", last.path)
    assert.equal(200, last.status)
    assert.equal("crid-log-1", last["client-request-id"])
    assert.equal("2", last["retry-attempt"])
    assert.is_number(last.time)
    for _, e in ipairs(st.log) do
      if e.endpoint == "identity" then assert.is_nil(e.path:find("?", 1, true)) end
    end
    assert.is_true(st.counters.list["200"] >= 1)
  end)
end)

describe("emulated Graph: $batch", function()
  local emu, call, devices
  before_each(function()
    emu = start({ devices = 30, seed = 11 })
    call = peer.connect(emu)
    devices = emu:state().devices
  end)
  after_each(function() emu:stop() end)

  local function batch(reqs, ver)
    return call("POST", "/" .. (ver or "v1.0") .. "/$batch", { body = cjson.encode({ requests = reqs }) })
  end
  local function by_id(r)
    local out = {}
    for _, x in ipairs(r.json.responses) do out[x.id] = x end
    return out
  end

  it("runs up to 20 relative requests and answers each by id", function()
    local reqs = {}
    for i = 1, 20 do
      reqs[i] = { id = tostring(i), method = "POST",
        url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. devices[i].id .. "/unassignUserFromDevice" }
    end
    local r = batch(reqs)
    assert.equal(200, r.status)
    local got = by_id(r)
    for i = 1, 20 do assert.equal(204, got[tostring(i)].status) end
    local order = {}
    for i, x in ipairs(r.json.responses) do order[i] = x.id end
    assert.not_same({ "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
      "18", "19", "20" }, order)  -- shuffled (seeded)
    for i = 1, 20 do assert.equal("", emu:state({ device = devices[i].id }).device.userPrincipalName) end
  end)

  it("refuses more than 20 requests and duplicate ids as a whole", function()
    local reqs = {}
    for i = 1, 21 do
      reqs[i] = { id = tostring(i), method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities" }
    end
    assert.equal(400, batch(reqs).status)
    local r = batch({ { id = "1", method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities" },
      { id = "1", method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities" } })
    assert.equal(400, r.status)
    assert.equal("BadRequest", r.json.error.code)
    assert.equal(400, call("POST", "/v1.0/$batch", { body = "nope" }).status)
  end)

  it("answers 424 for a request whose dependency failed, and items have their own statuses", function()
    local r = batch({
      { id = "a", method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities/unknown-id" },
      { id = "b", method = "POST", dependsOn = { "a" },
        url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. devices[1].id .. "/unassignUserFromDevice" },
      { id = "c", method = "GET", url = "deviceManagement/windowsAutopilotDeviceIdentities/" .. devices[2].id },
      { id = "d", method = "GET",
        url = "https://graph.microsoft.com/v1.0/deviceManagement/windowsAutopilotDeviceIdentities" },
      { id = "e", method = "POST", url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. devices[3].id
        .. "/updateDeviceProperties", headers = { ["Content-Type"] = "application/json" },
        body = { groupTag = "FromBatch" } },
    }, "beta")
    assert.equal(200, r.status)
    local got = by_id(r)
    assert.equal(404, got.a.status)
    assert.equal(424, got.b.status)
    assert.equal(200, got.c.status)
    assert.equal(devices[2].id, got.c.body.id)
    assert.is_string(got.c.body.deploymentProfileAssignmentStatus) -- a beta batch speaks beta
    assert.equal(400, got.d.status)
    assert.equal(204, got.e.status)
    assert.equal("FromBatch", emu:state({ device = devices[3].id }).device.groupTag)
    assert.equal(devices[1].userPrincipalName, emu:state({ device = devices[1].id }).device.userPrincipalName)
    assert.equal(400, batch({ { id = "x", method = "GET", url = "/a", dependsOn = { "zz" } } }).status)
  end)
end)

describe("emulated Graph: Autopilot sync", function()
  local emu, call
  setup(function()
    emu = start({ devices = 5 })
    call = peer.connect(emu)
  end)
  teardown(function() emu:stop() end)

  it("syncs (204), 409 while running, 429 within 10 minutes, then again", function()
    local S = "/v1.0/deviceManagement/windowsAutopilotSettings/sync"
    assert.equal(204, call("POST", S).status)
    local r = call("POST", S)
    assert.equal(409, r.status)
    assert.equal("inProgress", call("GET", "/v1.0/deviceManagement/windowsAutopilotSettings").json.syncStatus)
    emu:configure({ advance = 120 })
    r = call("POST", S)
    assert.equal(429, r.status)
    assert.is_true(tonumber(r.headers["retry-after"]) > 0)
    assert.equal("completed", call("GET", "/v1.0/deviceManagement/windowsAutopilotSettings").json.syncStatus)
    emu:configure({ advance = 481 })
    assert.equal(204, call("POST", S).status)
    assert.equal(2, emu:state({ devices = false }).sync.count)
  end)
end)

describe("emulated Graph: HTTPS", function()
  it("serves over TLS and builds https next links", function()
    local dir = files.tempdir()
    assert.truthy(tls.self_signed(dir, "c", { cn = "127.0.0.1" }))
    local emu = start({ devices = 5, tls_cert = dir .. "/c.crt", tls_key = dir .. "/c.key" })
    files.remove(dir)
    assert.matches("^https://", emu.url)
    local r = peer.connect(emu)("GET", P1 .. "?$top=2")
    emu:stop()
    assert.equal(200, r.status)
    assert.matches("^https://127%.0%.0%.1:%d+/v1%.0/deviceManagement/", r.json["@odata.nextLink"])
    assert.matches("^https://", r.json["@odata.context"])
  end)
end)

describe("emulated Graph: tenant contents", function()
  it("loads devices from a CSV file in Intune's export format", function()
    local path = os.tmpname()
    files.write(path, 'Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\n'
      .. 'CSV-0001,,AAAA,Kiosk,kiosk@contoso.com\nCSV 0002,,BBBB,,\n')
    local emu = start({ devices_file = path })
    local list = peer.connect(emu)("GET", P1).json.value
    emu:stop()
    os.remove(path)
    assert.equal(2, #list)
    assert.equal("CSV 0002", list[1].serialNumber)
    assert.equal("kiosk@contoso.com", list[2].userPrincipalName)
  end)

  it("takes devices as a JSON array in the config, and the same seed gives the same tenant", function()
    local emu = start({ devices = { { serialNumber = "J1", groupTag = "T" } } })
    assert.equal("J1", emu:state().devices[1].serialNumber)
    emu:stop()
    local a, b = start({ devices = 20, seed = 99 }), start({ devices = 20, seed = 99 })
    assert.same(a:state().devices, b:state().devices)
    a:stop()
    b:stop()
  end)

  it("refuses a bad configuration", function()
    local emu, err = emulator.start({ devices_file = "/nonexistent/file.csv" })
    assert.is_nil(emu)
    assert.matches("devices file", err)
    emu, err = emulator.start({ throttle = { app_writes = "many" } })
    assert.is_nil(emu)
    assert.matches("app_writes", err)
    emu, err = emulator.start({ faults = { ["418"] = 0.5 } })
    assert.is_nil(emu)
    assert.matches("unknown key", err)
  end)
end)
