-- autopilot.bulk.options: the defaults and checks of a bulk run's options.
local options = require "autopilot.bulk.options"

describe("autopilot.bulk.options", function()
  it("fills in Intune's write limit and quiet defaults", function()
    local o = options.check(nil)
    assert.equal(8, o.concurrency)
    assert.same({ writes = 100, seconds = 20 }, o.limit)
    assert.is_false(o.batch)
    assert.is_false(o.verify)
    assert.equal("auto", o.progress)
    assert.is_false(options.check { on_progress = function() end }.progress) -- a callback: no display
    assert.same({ timeout = 60, interval = 2 }, options.check { verify = true }.verify)
    assert.same({ timeout = 5, interval = 2 }, options.check { verify = { timeout = 5 } }.verify)
  end)

  it("raises on what is wrong, naming it", function()
    for _, case in ipairs {
      { { nope = 1 }, "unknown option 'nope'" }, { { concurrency = 0 }, "option 'concurrency'" },
      { { limit = { writes = 1 } }, "limit.seconds" }, { { batch = "yes" }, "option 'batch' must be a boolean" },
      { { journal = "" }, "option 'journal' must be a file path" },
      { { verify = { timeout = -1 } }, "verify.timeout" }, { { progress = "fancy" }, "option 'progress'" },
    } do
      local ok, err = pcall(options.check, case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end
  end)

  it("describes a run without functions or credentials", function()
    local d = options.describe(options.check { on_progress = print, limit = false })
    assert.is_nil(d.on_progress)
    assert.is_false(d.limit)
    assert.equal(8, d.concurrency)
  end)
end)
