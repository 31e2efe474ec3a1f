-- $batch mode: 20 unassigns per request; items throttled on their own are retried on their own, never
-- before their own Retry-After. Against the real emulator on loopback, on a clock 50 times as fast.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

local SCALE = 50

local function start(cfg)
  local emu = assert(emulator.start(cfg))
  return emu, tenant.connect(emu), tenant.ids(emu)
end

local count = tenant.count

describe("bulk batch mode", function()
  it("sends 20 writes per request and paces the items at the budget", function()
    local emu, client, ids = start { devices = 400, seed = 3, time_scale = SCALE, throttle = true }
    finally(function() client:close(); emu:stop() end)
    local report = assert(client:unassign_users(ids, { batch = true, force = true, progress = false,
      limit = { writes = 100, seconds = 20 / SCALE } }))
    assert.are.equal(400, report.succeeded, report:summary())
    local st = emu:state { log = false }
    assert.are.equal(400 / 20, count(st.counters, "batch"))
    assert.are.equal(400, count(st.counters, "unassignUserFromDevice"))
    for _, d in ipairs(st.devices) do
      assert.are.equal("", d.userPrincipalName)
      assert.are.equal(1, st.writes[d.id])
    end
    assert.are.equal(0, st.throttled)
  end)

  it("retries throttled and failed items on their own, never early, until every device is done", function()
    local emu, client, ids = start { devices = 600, seed = 4, time_scale = SCALE,
      throttle = { retry_after = { integer = 1, decimal = 1, date = 1, absent = 1 } },
      latency = { median = 10, p99 = 40 } }
    finally(function() client:close(); emu:stop() end)
    emu:configure { faults = { ["503"] = 0.05 } }
    -- a budget above the service's, so that items come back 429 inside envelopes answered 200
    local report = assert(client:unassign_users(ids, { batch = true, force = true, progress = false,
      concurrency = 4, limit = { writes = 130, seconds = 20 / SCALE } }))
    assert.are.equal(600, report.succeeded, report:summary())
    assert.are.equal(0, report.failed)
    local retried = 0
    for _, r in ipairs(report.results) do
      assert.are.equal(204, r.status)
      if r.attempts > 1 then retried = retried + 1 end
    end
    assert.is_true(retried > 0)
    local st = emu:state { log = false }
    assert.is_true(st.throttled > 0, "no item was throttled")
    assert.is_true((st.faults["503"] or 0) > 0)
    assert.are.equal(0, st.early_retries)
    for _, d in ipairs(st.devices) do assert.are.equal("", d.userPrincipalName) end
    -- every retried item went out in a later envelope: more item requests than devices, never more
    -- envelopes than needed for them
    local items = count(st.counters, "unassignUserFromDevice")
    assert.is_true(items > 600)
    assert.is_true(count(st.counters, "batch") >= math.ceil(items / 20))
  end)

  it("journals batch outcomes like single ones", function()
    local emu, client, ids = start { devices = 60, seed = 8 }
    finally(function() client:close(); emu:stop() end)
    local path = os.tmpname()
    os.remove(path)
    local report = assert(client:unassign_users(ids, { batch = true, force = true, journal = path, progress = false }))
    assert.are.equal(60, report.succeeded)
    local again = assert(client:unassign_users(ids, { batch = true, force = true, journal = path, progress = false }))
    assert.are.equal(60, again.counts.done_before)
    assert.are.equal(0, again.succeeded)
    os.remove(path)
    local st = emu:state { log = false }
    for _, d in ipairs(st.devices) do assert.are.equal(1, st.writes[d.id]) end
  end)
end)
