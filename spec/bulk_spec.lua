-- autopilot.bulk: a run's steps put together (plan, write, journal, verify, report) against the emulator.
-- The steps themselves: bulk_plan, bulk_runner, bulk_journal, bulk_verify, bulk_report specs.
local bulk = require "autopilot.bulk"
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

describe("autopilot.bulk", function()
  local emu, client

  before_each(function()
    emu = assert(emulator.start { devices = 40, seed = 5 })
    client = tenant.connect(emu)
  end)

  after_each(function()
    client:close()
    emu:stop()
  end)

  it("unassigns every planned device and accounts for the requests it made", function()
    local devices = tenant.devices(emu)
    assert(client:device(devices[1].id)) -- the token first: the emulator counts its request too
    local before = emu:state { devices = false, log = false }.requests
    local report = assert(bulk.run(client, devices, { force = true, progress = false, concurrency = 4 }))
    local st = emu:state { log = false }
    assert.equal(#devices, report.succeeded)
    assert.equal(0, report.failed)
    assert.equal(st.requests - before, report.requests)
    for _, d in ipairs(st.devices) do assert.equal("", d.userPrincipalName) end
  end)

  it("reports its pacing: achieved and adapted rates, 429s and the time paused", function()
    local devices = tenant.devices(emu)
    -- two devices answered 429 once (a targeted fault: no race with any budget), with a 0.2 s Retry-After
    emu:configure { faults = { targets = { [devices[3].id] = { "429" }, [devices[7].id] = { "429" } },
                               retry_after = 0.2 } }
    local report = assert(bulk.run(client, devices, { force = true, progress = false, concurrency = 4,
      limit = { writes = 40, seconds = 1 } }))
    assert.equal(#devices, report.succeeded)
    assert.equal(2, report.throttled)
    assert.equal(40, report.write_rate)
    assert.is_true(report.adapted_rate < report.write_rate, tostring(report.adapted_rate))
    assert.is_true(report.achieved_rate > 0)
    assert.is_true(report.paused_seconds >= 0.2)
    assert.matches("pacing: [%d.]+ writes/s achieved, limit 40.00/s, adapted to [%d.]+/s, paused [%d.]+ s",
      report:summary())
  end)

  it("puts the client's own pacing back when the run ends", function()
    assert.is_nil(client._session:stats().write_rate) -- the test client has no budget of its own
    local d = tenant.find_device(emu, function(x) return x.userPrincipalName ~= "" end)
    assert(bulk.run(client, { d.id }, { progress = false, limit = { writes = 10, seconds = 1 } }))
    assert.is_nil(client._session:stats().write_rate)
    local ok = pcall(bulk.run, client, { d.id }, { progress = false, limit = { writes = 10, seconds = 1 },
      on_progress = function() error("raised by the callback") end, force = true })
    assert.is_false(ok)
    assert.is_nil(client._session:stats().write_rate) -- put back even when the run raised
  end)

  it("raises for what is not a client or not an option, before anything is sent", function()
    local before = emu:state { devices = false, log = false }.requests
    assert.has_error(function() bulk.run({}, {}) end, "unassign_users: client must be an open autopilot.Client")
    assert.has_error(function() bulk.run(client, {}, { concurency = 2 }) end)
    assert.has_error(function() bulk.run(client, {}, { via_profile = true }) end)
    assert.equal(before, emu:state { devices = false, log = false }.requests)
  end)
end)
