-- autopilot.bulk.clock: the monotonic clock, sleep and ISO dates of the bulk runner.
local clock = require "autopilot.bulk.clock"

describe("autopilot.bulk.clock", function()
  it("runs forward, and sleeps at least as long as asked", function()
    local t0 = clock.now()
    clock.sleep(0.05)
    local t1 = clock.now()
    assert.is_true(t1 - t0 >= 0.05)
    clock.sleep(0)
    clock.sleep(-1)
    clock.sleep(0 / 0) -- none of these waits
  end)

  it("writes UTC dates as ISO 8601", function()
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", clock.iso())
  end)
end)
