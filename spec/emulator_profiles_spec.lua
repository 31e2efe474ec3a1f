-- Beta's Windows Autopilot deployment profiles over real sockets: the profile collection, a device's
-- deploymentProfile and intendedDeploymentProfile (navigation and $expand), and the assignment
-- status fields agreeing with them; v1.0 has none of it.
local cjson = require "cjson"
local emulator = require "autopilot.emulator"
local graph = require "autopilot.emulator.graph"
local peer = require "graph_peer"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local PB = "/beta/deviceManagement/windowsAutopilotDeviceIdentities"
local PROFILES = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles"
local RO_APP = "11111111-2222-4333-8444-555555555555"
local ZERO_DATE = "0001-01-01T00:00:00Z"
local TYPES = { ["#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"] = true,
  ["#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"] = true }
-- properties of Microsoft's beta windowsAutopilotDeploymentProfile resource page
local PROFILE_PROPS = { "id", "displayName", "description", "language", "locale", "createdDateTime",
  "lastModifiedDateTime", "outOfBoxExperienceSettings", "outOfBoxExperienceSetting", "extractHardwareHash",
  "hardwareHashExtractionEnabled", "deviceNameTemplate", "deviceType", "enableWhiteGlove", "preprovisioningAllowed",
  "roleScopeTagIds" }
local ASSIGNED = { assignedInSync = true, assignedOutOfSync = true, assignedUnkownSyncState = true }

local function strip(link) return link and link:gsub("^https?://[^/]+", "") end

-- Every device once (the skip token is inclusive: a page may repeat the last device of the one before).
local function list_all(call, url)
  local out, seen = {}, {}
  while url do
    local r = call("GET", url)
    assert.equal(200, r.status)
    for _, d in ipairs(r.json.value) do
      if not seen[d.id] then seen[d.id] = true; out[#out + 1] = d end
    end
    url = strip(r.json["@odata.nextLink"])
  end
  return out
end

local function first(list, pred)
  for _, d in ipairs(list) do if pred(d) then return d end end
  error("no device matches")
end

describe("emulated Graph: beta deployment profiles", function()
  local emu, call, profiles, devices
  setup(function()
    emu = assert(emulator.start({ devices = 1500, seed = 11, apps = {
      { client_id = RO_APP, client_secret = "ro-secret", roles = { "DeviceManagementServiceConfig.Read.All" } } } }))
    call = peer.connect(emu)
    local r = call("GET", PROFILES)
    assert.equal(200, r.status)
    profiles = {}
    for _, p in ipairs(r.json.value) do profiles[p.id] = p end
    devices = list_all(call, PB .. "?$expand=deploymentProfile,intendedDeploymentProfile")
  end)
  teardown(function() emu:stop() end)

  it("lists a small set of profiles with the documented properties, and gets each by id", function()
    local r = call("GET", PROFILES)
    assert.matches("/beta/%$metadata#deviceManagement/windowsAutopilotDeploymentProfiles$", r.json["@odata.context"])
    assert.equal(4, #r.json.value)
    for _, p in ipairs(r.json.value) do
      assert.is_true(TYPES[p["@odata.type"]], p["@odata.type"])
      for _, k in ipairs(PROFILE_PROPS) do assert.is_not_nil(p[k], k) end
      assert.is_boolean(p.outOfBoxExperienceSetting.eulaHidden)
      local one = call("GET", PROFILES .. "/" .. p.id)
      assert.equal(200, one.status)
      assert.matches("windowsAutopilotDeploymentProfiles/%$entity$", one.json["@odata.context"])
      one.json["@odata.context"] = nil
      assert.same(p, one.json)
    end
    local ro = peer.connect(emu, RO_APP, "ro-secret")
    assert.equal(200, ro("GET", PROFILES).status) -- Read.All reads profiles
  end)

  it("answers an unknown profile 404, other methods 405, and v1.0 400 (no such segment there)", function()
    local r = call("GET", PROFILES .. "/00000000-1111-2222-3333-444444444444")
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
    assert.equal(405, call("POST", PROFILES, { body = "{}" }).status)
    local v1 = call("GET", "/v1.0/deviceManagement/windowsAutopilotDeploymentProfiles")
    assert.equal(400, v1.status)
    assert.equal("BadRequest", v1.json.error.code)
    assert.matches("windowsAutopilotDeploymentProfiles", v1.json.error.message)
  end)

  it("keeps every device's status fields consistent with the profiles it has", function()
    assert.equal(1500, #devices)
    local seen = {}
    for _, d in ipairs(devices) do
      local st, cur, want = d.deploymentProfileAssignmentStatus, d.deploymentProfile, d.intendedDeploymentProfile
      seen[st] = true
      assert.is_not_nil(cur, "expanded deploymentProfile is present (null when none)")
      if ASSIGNED[st] then
        assert.is_table(cur)
        assert.is_table(want)
        assert.not_equal(ZERO_DATE, d.deploymentProfileAssignedDateTime)
        assert.same(profiles[cur.id], cur)
        if st == "assignedInSync" then assert.equal(cur.id, want.id) end
      else
        assert.equal(cjson.null, cur)
        assert.equal(ZERO_DATE, d.deploymentProfileAssignedDateTime)
        if st == "pending" or st == "failed" then
          assert.same(profiles[want.id], want)
        else
          assert.equal(cjson.null, want)
        end
      end
      assert.equal(st == "failed", d.deploymentProfileAssignmentDetailedStatus ~= "none", st)
    end
    for _, st in ipairs({ "unknown", "assignedInSync", "assignedOutOfSync", "assignedUnkownSyncState", "notAssigned",
      "pending", "failed" }) do
      assert.is_true(seen[st], st)
    end
  end)

  it("serves deploymentProfile and intendedDeploymentProfile by navigation, 404 when there is none", function()
    local d = first(devices, function(x) return x.deploymentProfileAssignmentStatus == "assignedInSync" end)
    local r = call("GET", PB .. "/" .. d.id .. "/deploymentProfile")
    assert.equal(200, r.status)
    assert.equal(emu.url .. "/beta/$metadata#deviceManagement/windowsAutopilotDeviceIdentities('" .. d.id
      .. "')/deploymentProfile/$entity", r.json["@odata.context"])
    r.json["@odata.context"] = nil
    assert.same(d.deploymentProfile, r.json)
    local pending = first(devices, function(x) return x.deploymentProfileAssignmentStatus == "pending" end)
    r = call("GET", PB .. "/" .. pending.id .. "/intendedDeploymentProfile")
    assert.equal(200, r.status)
    assert.equal(pending.intendedDeploymentProfile.id, r.json.id)
    r = call("GET", PB .. "/" .. pending.id .. "/deploymentProfile")
    assert.equal(404, r.status)
    assert.equal("ResourceNotFound", r.json.error.code)
    assert.equal(r.headers["request-id"], r.json.error.innerError["request-id"])
    local none = first(devices, function(x) return x.deploymentProfileAssignmentStatus == "notAssigned" end)
    assert.equal(404, call("GET", PB .. "/" .. none.id .. "/intendedDeploymentProfile").status)
    assert.equal(404, call("GET", PB .. "/00000000-1111-2222-3333-444444444444/deploymentProfile").status)
    assert.equal(405, call("DELETE", PB .. "/" .. d.id .. "/deploymentProfile").status)
    -- the nesting through assignedDevices still routes
    assert.equal(200, call("GET", PB .. "/" .. d.id .. "/deploymentProfile/assignedDevices/" .. d.id).status)
  end)

  it("expands on get, accepts * and any case, and refuses unknown properties", function()
    local d = first(devices, function(x) return x.deploymentProfileAssignmentStatus == "assignedOutOfSync" end)
    local r = call("GET", PB .. "/" .. d.id .. "?$expand=intendedDeploymentProfile")
    assert.equal(200, r.status)
    assert.same(d.intendedDeploymentProfile, r.json.intendedDeploymentProfile)
    assert.is_nil(r.json.deploymentProfile)
    r = call("GET", PB .. "/" .. d.id .. "?$expand=*")
    assert.same(d.deploymentProfile, r.json.deploymentProfile)
    assert.same(d.intendedDeploymentProfile, r.json.intendedDeploymentProfile)
    r = call("GET", PB .. "/" .. d.id .. "?$expand=DeploymentProfile")
    assert.same(d.deploymentProfile, r.json.deploymentProfile)
    assert.is_nil(call("GET", PB .. "/" .. d.id).json.deploymentProfile) -- not without $expand
    r = call("GET", PB .. "/" .. d.id .. "?$expand=deploymentProfile($select=id)")
    assert.equal(400, r.status)
    assert.matches("nested query options", r.json.error.message)
    r = call("GET", PB .. "?$top=5&$expand=assignedDevices")
    assert.equal(400, r.status)
    assert.equal("Could not find a property named 'assignedDevices' on type "
      .. "'microsoft.graph.windowsAutopilotDeviceIdentity'.", r.json.error.message)
  end)

  it("has no navigation properties on v1.0: 400 for the segment and for $expand", function()
    local d = devices[1]
    for _, nav in ipairs({ "deploymentProfile", "intendedDeploymentProfile" }) do
      local r = call("GET", P1 .. "/" .. d.id .. "/" .. nav)
      assert.equal(400, r.status)
      assert.equal("Resource not found for the segment '" .. nav .. "'.", r.json.error.message)
      assert.equal(400, call("GET", P1 .. "?$expand=" .. nav).status)
      assert.equal(400, call("GET", P1 .. "/" .. d.id .. "?$expand=" .. nav).status)
    end
    local r = call("GET", P1 .. "/" .. d.id .. "?$expand=*") -- nothing to expand
    assert.equal(200, r.status)
    assert.is_nil(r.json.deploymentProfile)
  end)

  it("makes the same profiles and assignments for the same seed, others for another", function()
    local twin = assert(emulator.start({ devices = 20, seed = 11 }))
    local other = assert(emulator.start({ devices = 20, seed = 12 }))
    local function ids(e)
      local r = peer.connect(e)("GET", PROFILES)
      local out = {}
      for i, p in ipairs(r.json.value) do out[i] = p.id end
      return out
    end
    local mine, theirs, others = ids(emu), ids(twin), ids(other)
    local tw = peer.connect(twin)("GET", PB .. "?$top=20&$expand=deploymentProfile")
    twin:stop()
    other:stop()
    assert.same(mine, theirs)
    assert.not_same(mine, others)
    -- devices of a seed do not depend on the tenant's size: the first 20 of 1500 are the 20 of 20
    local by_id = {}
    for _, d in ipairs(devices) do by_id[d.id] = d end
    for _, d in ipairs(tw.json.value) do
      local mine_d = assert(by_id[d.id])
      assert.equal(mine_d.deploymentProfileAssignmentStatus, d.deploymentProfileAssignmentStatus)
      assert.same(mine_d.deploymentProfile, d.deploymentProfile)
    end
  end)
end)

describe("graph.route for profiles and the new actions", function()
  local D = "/deviceManagement/windowsAutopilotDeviceIdentities"
  it("names each operation and keeps beta's segments off v1.0", function()
    local op = assert(graph.route("GET", "/beta" .. D .. "/a/intendedDeploymentProfile"))
    assert.same({ "navigation", "intendedDeploymentProfile", "a", false }, { op.name, op.nav, op.id, op.write })
    op = assert(graph.route("GET", "/beta/deviceManagement/windowsAutopilotDeploymentProfiles/p"))
    assert.same({ "profile", "p" }, { op.name, op.id })
    op = assert(graph.route("POST", "/v1.0" .. D .. "/deleteDevices"))
    assert.same({ "deleteDevices", true }, { op.name, op.write })
    op = assert(graph.route("POST", "/beta" .. D .. "/a/deploymentProfile/assignedDevices/b/allowNextEnrollment"))
    assert.same({ "allowNextEnrollment", "a", "b", true }, { op.name, op.outer, op.id, op.write })
    local _, err = graph.route("GET", "/v1.0/deviceManagement/windowsAutopilotDeploymentProfiles")
    assert.equal(400, err.status)
    _, err = graph.route("POST", "/v1.0" .. D .. "/a/allowNextEnrollment")
    assert.equal(400, err.status)
    _, err = graph.route("GET", "/beta" .. D .. "/a/intendedDeploymentProfile/assignedDevices")
    assert.equal(400, err.status)
    _, err = graph.route("PUT", "/beta" .. D .. "/a/deploymentProfile")
    assert.equal(405, err.status)
  end)
end)
