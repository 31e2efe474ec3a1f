-- Generated devices carry every documented enum value, the common one most often, and only documented
-- ones: the generator directly (a pure function) and what v1.0 and beta send over real sockets.
local emulator = require "autopilot.emulator"
local generator = require "autopilot.emulator.generator"
local peer = require "graph_peer"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local PB = "/beta/deviceManagement/windowsAutopilotDeviceIdentities"

-- Microsoft's beta resource page (and v1.0's for enrollmentState, which lacks `blocked`)
local DOCUMENTED = {
  enrollmentState = { "unknown", "enrolled", "pendingReset", "failed", "notContacted", "blocked" },
  deploymentProfileAssignmentStatus = { "unknown", "assignedInSync", "assignedOutOfSync", "assignedUnkownSyncState",
    "notAssigned", "pending", "failed" },
  deploymentProfileAssignmentDetailedStatus = { "none", "hardwareRequirementsNotMet", "surfaceHubProfileNotSupported",
    "holoLensProfileNotSupported", "windowsPcProfileNotSupported", "surfaceHub2SProfileNotSupported",
    "unknownFutureValue" },
  remediationState = { "unknown", "noRemediationRequired", "automaticRemediationRequired",
    "manualRemediationRequired", "unknownFutureValue" },
  userlessEnrollmentStatus = { "unknown", "allowed", "blocked", "unknownFutureValue" },
}
local COMMON = { enrollmentState = "enrolled", deploymentProfileAssignmentStatus = "assignedInSync",
  deploymentProfileAssignmentDetailedStatus = "none", remediationState = "noRemediationRequired",
  userlessEnrollmentStatus = "allowed" }
local V1_ENROLLMENT = { "unknown", "enrolled", "pendingReset", "failed", "notContacted" }

local function tally(devices, prop)
  local t = {}
  for _, d in ipairs(devices) do t[d[prop]] = (t[d[prop]] or 0) + 1 end
  return t
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function sorted(list)
  local out = { table.unpack(list) }
  table.sort(out)
  return out
end

local function all_devices(call, base)
  local out, seen, url = {}, {}, base
  while url do
    local r = call("GET", url)
    assert.equal(200, r.status)
    for _, d in ipairs(r.json.value) do
      if not seen[d.id] then seen[d.id] = true; out[#out + 1] = d end
    end
    url = r.json["@odata.nextLink"] and r.json["@odata.nextLink"]:gsub("^https?://[^/]+", "")
  end
  return out
end

describe("generated enum values", function()
  it("are exactly the documented ones, each present, the common one most frequent", function()
    local devices = generator.generate(20000, 3)
    for prop, values in pairs(DOCUMENTED) do
      local t = tally(devices, prop)
      assert.same(sorted(values), keys(t), prop)
      local top, most = nil, -1
      for v, n in pairs(t) do if n > most then top, most = v, n end end
      assert.equal(COMMON[prop], top, prop)
      assert.same(sorted(values), sorted(generator.ENUMS[prop]), prop) -- the module says the same
    end
  end)

  it("set remediationStateLastModifiedDateTime exactly when a remediation state is known", function()
    for _, d in ipairs(generator.generate(3000, 9)) do
      assert.equal(d.remediationState == "unknown", d.remediationStateLastModifiedDateTime == "0001-01-01T00:00:00Z")
    end
  end)
end)

describe("emulated Graph: enum values on the wire", function()
  local emu, call
  setup(function()
    emu = assert(emulator.start({ devices = 3000, seed = 3 }))
    call = peer.connect(emu)
  end)
  teardown(function() emu:stop() end)

  it("sends every documented value on beta", function()
    local devices = all_devices(call, PB)
    assert.equal(3000, #devices)
    for prop, values in pairs(DOCUMENTED) do assert.same(sorted(values), keys(tally(devices, prop)), prop) end
  end)

  it("sends v1.0's enrollmentState values only, and none of beta's properties", function()
    local devices = all_devices(call, P1)
    assert.equal(3000, #devices)
    assert.same(sorted(V1_ENROLLMENT), keys(tally(devices, "enrollmentState")))
    for prop in pairs(DOCUMENTED) do
      if prop ~= "enrollmentState" then assert.is_nil(devices[1][prop], prop) end
    end
    -- a device blocked on beta is "unknown" on v1.0
    local blocked
    for _, d in ipairs(emu:state().devices) do
      if d.enrollmentState == "blocked" then blocked = d; break end
    end
    assert.equal("blocked", call("GET", PB .. "/" .. blocked.id).json.enrollmentState)
    assert.equal("unknown", call("GET", P1 .. "/" .. blocked.id).json.enrollmentState)
  end)
end)
