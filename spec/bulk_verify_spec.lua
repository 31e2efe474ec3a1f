-- Verify against eventual consistency: the emulator shows a write to GET only `consistency_delay` emulated
-- seconds after it happened, as the service does; verify reads each device back until its user is gone.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

local SCALE = 10

local function start(delay)
  local emu = assert(emulator.start { devices = 120, seed = 9, time_scale = SCALE, consistency_delay = delay })
  local targets = {}
  for i, d in ipairs(tenant.with_user(emu)) do targets[i] = d.id end
  return emu, tenant.connect(emu), targets
end

local function gets(emu)
  return tenant.count(emu:state({ devices = false, log = false }).counters, "get")
end

describe("bulk verify", function()
  it("reads each device back until the write shows, and reports it verified", function()
    -- 20 emulated seconds: 2 real seconds before GET shows the change
    local emu, client, targets = start(20)
    finally(function() client:close(); emu:stop() end)
    local report = assert(client:unassign_users(targets, { verify = { timeout = 30, interval = 0.5 },
                                                            progress = false }))
    assert.are.equal(#targets, report.succeeded)
    assert.are.equal(#targets, report.verified)
    assert.are.equal(0, report.unverified)
    for _, r in ipairs(report.results) do assert.is_true(r.verified) end
    -- the first reads saw the old user: more reads than devices
    assert.is_true(gets(emu) > #targets)
    assert.are.equal(0, emu:state({ devices = false, log = false }).pending_writes)
  end)

  it("reports verified = false when the change does not show before the deadline", function()
    -- 600 emulated seconds: a minute of real time, far past a 1.5 s verify timeout
    local emu, client, targets = start(600)
    finally(function() client:close(); emu:stop() end)
    local some = { targets[1], targets[2], targets[3] }
    local report = assert(client:unassign_users(some, { verify = { timeout = 1.5, interval = 0.4 },
                                                         progress = false }))
    assert.are.equal(3, report.succeeded)
    assert.are.equal(0, report.verified)
    assert.are.equal(3, report.unverified)
    for _, r in ipairs(report.results) do
      assert.is_false(r.verified)
      assert.matches("still assigned", r.message)
    end
    assert.matches("3 not verified", tostring(report))
    -- one read per interval and one at the deadline: a handful per device, not a busy loop
    local n = gets(emu)
    assert.is_true(n >= 3 * 2 and n <= 3 * 8, n .. " reads")
  end)

  it("leaves verified unset without verify", function()
    local emu, client, targets = start(0)
    finally(function() client:close(); emu:stop() end)
    local report = assert(client:unassign_users({ targets[1] }, { progress = false }))
    assert.is_nil(report.results[1].verified)
    assert.are.equal(1, gets(emu)) -- the plan's lookup of the id, no read after the write
  end)
end)
