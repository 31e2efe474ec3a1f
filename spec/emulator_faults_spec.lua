-- Faults, eventual consistency, latency and the bounded log, over real sockets.
local cjson = require "cjson"
local emulator = require "autopilot.emulator"
local peer = require "graph_peer"
local tenant = require "tenant"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"

local function unassign_path(id) return P1 .. "/" .. id .. "/unassignUserFromDevice" end

local assigned = tenant.with_user

describe("emulated Graph: faults", function()
  local emu, call
  before_each(function()
    emu = assert(emulator.start({ devices = 30, seed = 21 }))
    call = peer.connect(emu)
  end)
  after_each(function() emu:stop() end)

  it("injects status faults at the configured rate and counts them", function()
    emu:configure({ faults = { ["503"] = 1 } })
    for _ = 1, 3 do
      local r = call("GET", P1)
      assert.equal(503, r.status)
      assert.equal("ServiceUnavailable", r.json.error.code)
      assert.equal(3, peer.intune(r)._version)
    end
    emu:configure({ faults = { ["500"] = 1 } })
    assert.equal(500, call("GET", P1).status)
    emu:configure({ faults = { ["502"] = 1 } })
    assert.equal(502, call("GET", P1).status)
    local st = emu:state({ devices = false })
    assert.same({ ["503"] = 3, ["500"] = 1, ["502"] = 1 }, st.faults)
    emu:configure({ faults = false })
    assert.equal(200, call("GET", P1).status)
    local last = st.log[#st.log]
    assert.equal("502", last.fault)
  end)

  it("is reproducible: the same seed and requests give the same faults", function()
    local function run(seed)
      local e = assert(emulator.start({ devices = 5, seed = seed, faults = { ["500"] = 0.3, ["503"] = 0.3 } }))
      local c = peer.connect(e)
      local out = {}
      for i = 1, 30 do out[i] = c("GET", P1).status end
      e:stop()
      return out
    end
    local a, b, c = run(4), run(4), run(5)
    assert.same(a, b)
    assert.not_same(a, c)
    local n = 0
    for _, s in ipairs(a) do if s ~= 200 then n = n + 1 end end
    assert.is_true(n > 0 and n < 30)
  end)

  it("targets chosen devices, in order, then lets them through", function()
    local d = assigned(emu)
    emu:configure({ faults = { targets = { [d[1].id] = { "503", "504" } } } })
    assert.equal(204, call("POST", unassign_path(d[2].id)).status)
    assert.equal(503, call("POST", unassign_path(d[1].id)).status)
    assert.equal(d[1].userPrincipalName, emu:state({ device = d[1].id }).device.userPrincipalName)
    -- a 504 comes after the write happened
    assert.equal(504, call("POST", unassign_path(d[1].id)).status)
    assert.equal("", emu:state({ device = d[1].id }).device.userPrincipalName)
    assert.equal(204, call("POST", unassign_path(d[1].id)).status)
  end)

  it("resets the connection mid-answer; on an empty answer it closes after the write", function()
    emu:configure({ faults = { reset = 1 } })
    local r = call("GET", P1)
    assert.is_true(r.exit ~= 0)
    local d = assigned(emu)[1]
    r = call("POST", unassign_path(d.id))
    assert.equal(0, r.status)
    assert.is_true(r.exit ~= 0)
    emu:configure({ faults = false })
    assert.equal("", emu:state({ device = d.id }).device.userPrincipalName)
  end)

  it("truncates the body", function()
    emu:configure({ faults = { truncate = 1 } })
    local r = call("GET", P1)
    assert.equal(18, r.exit) -- curl: partial file
  end)

  it("sends malformed JSON", function()
    emu:configure({ faults = { malformed = 1 } })
    local r = call("GET", P1)
    assert.equal(200, r.status)
    assert.is_nil(r.json)
    local d = assigned(emu)[1]
    r = call("POST", unassign_path(d.id))
    assert.equal(500, r.status)
    assert.is_nil(r.json)
  end)

  it("stalls without answering, and the stalled write does not happen", function()
    emu:configure({ faults = { stall = 1, stall_seconds = 0.5 } })
    local d = assigned(emu)[1]
    local r = call("POST", unassign_path(d.id))
    assert.equal(0, r.status)
    assert.is_true(r.exit ~= 0)
    emu:configure({ faults = false })
    assert.equal(d.userPrincipalName, emu:state({ device = d.id }).device.userPrincipalName)
    local st = emu:state({ devices = false })
    assert.equal(1, st.faults.stall)
    assert.equal(1, st.counters.unassignUserFromDevice["0"])
  end)

  it("revokes every token issued so far", function()
    emu:configure({ faults = { revoke = 1 } })
    local r = call("GET", P1)
    assert.equal(401, r.status)
    assert.equal("InvalidAuthenticationToken", r.json.error.code)
    emu:configure({ faults = false })
    assert.equal(401, call("GET", P1).status)
    assert.equal(200, peer.connect(emu)("GET", P1).status)
  end)

  it("faults $batch items on their own", function()
    local d = emu:state().devices
    emu:configure({ faults = { targets = { [d[1].id] = { "503" } } } })
    local r = call("POST", "/v1.0/$batch", { body = cjson.encode({ requests = {
      { id = "1", method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. d[1].id },
      { id = "2", method = "GET", url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. d[2].id },
    } }) })
    assert.equal(200, r.status)
    local got = {}
    for _, x in ipairs(r.json.responses) do got[x.id] = x.status end
    assert.same({ ["1"] = 503, ["2"] = 200 }, got)
    -- a 504 on the batch itself comes after its items ran
    emu:configure({ faults = { ["504"] = 1 } })
    local upn = d[3].userPrincipalName
    r = call("POST", "/v1.0/$batch", { body = cjson.encode({ requests = {
      { id = "1", method = "POST", url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. d[3].id
        .. "/assignUserToDevice", body = { userPrincipalName = "batch@contoso.com" },
        headers = { ["Content-Type"] = "application/json" } } } }) })
    assert.equal(504, r.status)
    emu:configure({ faults = false })
    assert.not_equal(upn, emu:state({ device = d[3].id }).device.userPrincipalName)
    assert.equal("batch@contoso.com", emu:state({ device = d[3].id }).device.userPrincipalName)
  end)
end)

describe("emulated Graph: eventual consistency", function()
  it("shows a write to GET and list only after consistency_delay emulated seconds", function()
    local emu = assert(emulator.start({ devices = 20, seed = 8, consistency_delay = 30 }))
    local call = peer.connect(emu)
    local d = assigned(emu)[1]
    assert.equal(204, call("POST", unassign_path(d.id)).status)
    assert.equal(d.userPrincipalName, call("GET", P1 .. "/" .. d.id).json.userPrincipalName)
    local st = emu:state({ device = d.id })
    assert.equal("", st.device.userPrincipalName)
    assert.equal(d.userPrincipalName, st.visible.userPrincipalName)
    assert.equal(1, st.pending_writes)
    emu:configure({ advance = 31 })
    assert.equal("", call("GET", P1 .. "/" .. d.id).json.userPrincipalName)
    -- deletes too: still listed until the delay passes, but gone for writes at once
    local other = emu:state().devices[2]
    assert.equal(204, call("DELETE", P1 .. "/" .. other.id).status)
    assert.equal(200, call("GET", P1 .. "/" .. other.id).status)
    assert.equal(404, call("POST", unassign_path(other.id)).status)
    assert.equal(20, #call("GET", P1).json.value)
    emu:configure({ consistency_delay = 0 })
    assert.equal(404, call("GET", P1 .. "/" .. other.id).status)
    assert.equal(19, #call("GET", P1).json.value)
    emu:stop()
  end)
end)

describe("emulated Graph: run-time configuration", function()
  it("rejects a bad setting as a whole, changing nothing", function()
    local emu = assert(emulator.start({ devices = 10, seed = 2 }))
    local call = peer.connect(emu)
    local ok, err = pcall(emu.configure, emu, { consistency_delay = 50, faults = { ["418"] = 1 } })
    assert.is_false(ok)
    assert.matches("unknown key", err)
    ok = pcall(emu.configure, emu, { faults = { ["503"] = 1 }, latency = { median = 10, p99 = 1 } })
    assert.is_false(ok)
    ok = pcall(emu.configure, emu, { throttle = { app_writes = 0 } })
    assert.is_false(ok)
    local d = assigned(emu)[1]
    assert.equal(204, call("POST", unassign_path(d.id)).status) -- no fault, no delay
    assert.equal("", call("GET", P1 .. "/" .. d.id).json.userPrincipalName)
    emu:stop()
  end)
end)

describe("emulated Graph: latency and the log", function()
  it("delays answers by the configured latency", function()
    local emu = assert(emulator.start({ devices = 3, latency = 300 }))
    local r = peer.connect(emu)("GET", P1)
    assert.equal(200, r.status)
    assert.is_true(r.time >= 0.3)
    emu:configure({ latency = { median = 50, p99 = 200 } })
    assert.equal(200, peer.connect(emu)("GET", P1).status)
    emu:stop()
  end)

  it("keeps the log bounded", function()
    local emu = assert(emulator.start({ devices = 3, log_max = 5 }))
    local call = peer.connect(emu)
    for _ = 1, 8 do call("GET", P1) end
    local st = emu:state({ devices = false })
    assert.equal(5, #st.log)
    assert.equal(9, st.log_total) -- 8 reads and the token request
    assert.equal(4, st.log_dropped)
    assert.equal(5, #emu:state({ log = 10, devices = false }).log)
    assert.equal(2, #emu:state({ log = 2, devices = false }).log)
    assert.is_nil(emu:state({ log = false, devices = false }).log)
    emu:stop()
  end)
end)
