-- deleteDevices (by serial number) and beta's allowNextEnrollment over real sockets: what they answer,
-- what they change, who may call them, and that they spend the write budget.
local emulator = require "autopilot.emulator"
local peer = require "graph_peer"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local PB = "/beta/deviceManagement/windowsAutopilotDeviceIdentities"
local DELETE = P1 .. "/deleteDevices"
local RO_APP = "11111111-2222-4333-8444-555555555555"
local APPS = {
  { client_id = RO_APP, client_secret = "ro-secret", roles = { "DeviceManagementServiceConfig.Read.All" } },
}
local UNKNOWN_ID = "00000000-1111-2222-3333-444444444444"

local function body(serials)
  return require("cjson").encode({ serialNumbers = serials })
end

-- serial -> array of device ids (current view), from the emulator's state
local function by_serial(emu)
  local t = {}
  for _, d in ipairs(emu:state({ log = false }).devices) do
    t[d.serialNumber] = t[d.serialNumber] or {}
    table.insert(t[d.serialNumber], d.id)
  end
  return t
end

local function pick_serial(serials, want_many)
  local best
  for s, ids in pairs(serials) do
    if (want_many and #ids > 1) or (not want_many and #ids == 1 and not s:find(" ")) then
      if not best or s < best then best = s end -- the smallest, so the pick does not depend on pairs order
    end
  end
  return assert(best)
end

describe("emulated Graph: deleteDevices", function()
  local emu, call
  before_each(function()
    emu = assert(emulator.start({ devices = 300, seed = 21, apps = APPS }))
    call = peer.connect(emu)
  end)
  after_each(function() emu:stop() end)

  it("deletes every device with each serial and reports a state per device, unknown serials failed", function()
    local serials = by_serial(emu)
    local dup, single = pick_serial(serials, true), pick_serial(serials, false)
    local r = call("POST", DELETE, { body = body({ single, "NO-SUCH-SERIAL", dup }) })
    assert.equal(200, r.status)
    assert.matches("/v1.0/%$metadata#Collection%(microsoft%.graph%.deletedWindowsAutopilotDeviceState%)$",
      r.json["@odata.context"])
    local v = r.json.value
    assert.equal(2 + #serials[dup], #v)
    assert.same({ serialNumber = single, deviceRegistrationId = serials[single][1], deletionState = "accepted",
      errorMessage = "", ["@odata.type"] = "#microsoft.graph.deletedWindowsAutopilotDeviceState" }, v[1])
    assert.equal("NO-SUCH-SERIAL", v[2].serialNumber)
    assert.equal("failed", v[2].deletionState)
    assert.equal("", v[2].deviceRegistrationId)
    assert.matches("NO%-SUCH%-SERIAL", v[2].errorMessage)
    local got = {}
    for i = 3, #v do
      assert.equal(dup, v[i].serialNumber)
      assert.equal("accepted", v[i].deletionState)
      got[#got + 1] = v[i].deviceRegistrationId
    end
    table.sort(got)
    local want = { table.unpack(serials[dup]) }
    table.sort(want)
    assert.same(want, got)
    for _, id in ipairs(want) do assert.equal(404, call("GET", P1 .. "/" .. id).status) end
    assert.equal(404, call("GET", P1 .. "/" .. serials[single][1]).status)
    assert.equal(300 - 1 - #want, emu:state({ devices = false }).device_count)
    -- the same serials again: nothing left to delete, each reported failed
    r = call("POST", DELETE, { body = body({ single }) })
    assert.equal(200, r.status)
    assert.equal("failed", r.json.value[1].deletionState)
    assert.equal(2, emu:state({ devices = false }).counters.deleteDevices["200"])
  end)

  it("answers an empty list with an empty value, and is on beta too", function()
    local r = call("POST", DELETE, { body = body({}) })
    assert.equal(200, r.status)
    assert.same({}, r.json.value)
    local serials = by_serial(emu)
    local s = pick_serial(serials, false)
    r = call("POST", PB .. "/deleteDevices", { body = body({ s }) })
    assert.equal(200, r.status)
    assert.equal("accepted", r.json.value[1].deletionState)
    assert.matches("/beta/%$metadata#Collection", r.json["@odata.context"])
    -- a serial with spaces (VMware's) matches exactly too
    local spaced
    for serial, ids in pairs(serials) do
      if serial:find(" ") and #ids == 1 and (not spaced or serial < spaced) then spaced = serial end
    end
    assert.is_string(spaced, "seed 21 has a VMware serial")
    r = call("POST", DELETE, { body = body({ spaced }) })
    assert.equal(serials[spaced][1], r.json.value[1].deviceRegistrationId)
  end)

  it("refuses bad bodies with 400 and deletes nothing", function()
    local s = pick_serial(by_serial(emu), false)
    local bad = {
      '{"serialNumbers":"' .. s .. '"}', '{"serialNumbers":[1]}', '{"serialNumbers":{"a":"' .. s .. '"}}',
      '{"serialNumbers":["' .. s .. '"],"force":true}', "{}", '{"serialNumbers":null}', "not json",
      '["' .. s .. '"]',
    }
    for _, b in ipairs(bad) do
      local r = call("POST", DELETE, { body = b })
      assert.equal(400, r.status, b)
      assert.equal("BadRequest", r.json.error.code, b)
    end
    local r = call("POST", DELETE, { body = '{"serialNumbers":["x"],"force":true}' })
    assert.equal("The parameter 'force' in the request payload is not a valid parameter for the operation "
      .. "'deleteDevices'.", r.json.error.message)
    assert.equal(300, emu:state({ devices = false }).device_count)
    assert.equal(405, call("GET", DELETE).status)
  end)

  it("needs ReadWrite.All: a read-only app gets 403 and nothing is deleted", function()
    local s = pick_serial(by_serial(emu), false)
    local ro = peer.connect(emu, RO_APP, "ro-secret")
    local r = ro("POST", DELETE, { body = body({ s }) })
    assert.equal(403, r.status)
    assert.equal("Forbidden", r.json.error.code)
    assert.matches("ReadWrite%.All", peer.intune(r).Message)
    assert.equal(300, emu:state({ devices = false }).device_count)
  end)

  it("deletes in the current view at once; GET sees it after the consistency delay", function()
    emu:configure({ consistency_delay = 30 })
    local serials = by_serial(emu)
    local s = pick_serial(serials, false)
    local id = serials[s][1]
    assert.equal("accepted", call("POST", DELETE, { body = body({ s }) }).json.value[1].deletionState)
    assert.equal(200, call("GET", P1 .. "/" .. id).status) -- still visible
    assert.equal("failed", call("POST", DELETE, { body = body({ s }) }).json.value[1].deletionState)
    emu:configure({ advance = 31 })
    assert.equal(404, call("GET", P1 .. "/" .. id).status)
  end)
end)

describe("emulated Graph: allowNextEnrollment (beta)", function()
  local emu, call
  before_each(function()
    emu = assert(emulator.start({ devices = 300, seed = 21, apps = APPS }))
    call = peer.connect(emu)
  end)
  after_each(function() emu:stop() end)

  local function blocked_device()
    for _, d in ipairs(emu:state({ log = false }).devices) do
      if d.userlessEnrollmentStatus == "blocked" then return d end
    end
    error("no blocked device")
  end

  it("answers 204 and allows the device's next userless enrollment", function()
    local d = blocked_device()
    assert.equal("blocked", call("GET", PB .. "/" .. d.id).json.userlessEnrollmentStatus)
    local r = call("POST", PB .. "/" .. d.id .. "/allowNextEnrollment")
    assert.equal(204, r.status)
    assert.equal("", r.body)
    assert.equal("allowed", call("GET", PB .. "/" .. d.id).json.userlessEnrollmentStatus)
    assert.equal(1, emu:state({ device = d.id }).device_writes)
    -- action names match in any case, as for the other actions
    assert.equal(204, call("POST", PB .. "/" .. d.id .. "/AllowNextEnrollment").status)
  end)

  it("answers 404 for an unknown device, 400 on v1.0 and with a body, 405 for GET", function()
    local d = blocked_device()
    local r = call("POST", PB .. "/" .. UNKNOWN_ID .. "/allowNextEnrollment")
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
    r = call("POST", P1 .. "/" .. d.id .. "/allowNextEnrollment")
    assert.equal(400, r.status)
    assert.equal("Resource not found for the segment 'allowNextEnrollment'.", r.json.error.message)
    r = call("POST", PB .. "/" .. d.id .. "/allowNextEnrollment", { body = '{"force":true}' })
    assert.equal(400, r.status)
    assert.equal(405, call("GET", PB .. "/" .. d.id .. "/allowNextEnrollment").status)
    assert.equal("blocked", call("GET", PB .. "/" .. d.id).json.userlessEnrollmentStatus) -- nothing changed
  end)

  it("needs ReadWrite.All: a read-only app gets 403 and nothing changes", function()
    local d = blocked_device()
    local ro = peer.connect(emu, RO_APP, "ro-secret")
    assert.equal(403, ro("POST", PB .. "/" .. d.id .. "/allowNextEnrollment").status)
    assert.equal("blocked", call("GET", PB .. "/" .. d.id).json.userlessEnrollmentStatus)
  end)
end)

describe("emulated Graph: deleteDevices and allowNextEnrollment spend the write budget", function()
  it("answers 429 once the app's writes are spent, reads still served", function()
    local emu = assert(emulator.start({ devices = 50, seed = 21,
      throttle = { app_writes = 2, tenant_writes = 100, app_requests = 100, tenant_requests = 200,
      window = 3600 } })) -- one window for the whole test: no boundary to race
    local call = peer.connect(emu)
    local id = emu:state({ log = false }).devices[1].id
    assert.equal(200, call("POST", DELETE, { body = body({ "NO-SUCH-SERIAL" }) }).status)
    assert.equal(204, call("POST", PB .. "/" .. id .. "/allowNextEnrollment").status)
    local r1 = call("POST", DELETE, { body = body({ "NO-SUCH-SERIAL" }) })
    local r2 = call("POST", PB .. "/" .. id .. "/allowNextEnrollment")
    assert.equal(200, call("GET", P1 .. "/" .. id).status)
    local st = emu:state({ devices = false })
    emu:stop()
    assert.equal(429, r1.status)
    assert.equal(429, r2.status)
    assert.equal(1, st.counters.deleteDevices["429"])
    assert.equal(1, st.counters.allowNextEnrollment["429"])
    assert.equal(2, st.throttled)
  end)
end)
