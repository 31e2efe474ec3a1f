-- autopilot.checks: the option checks connect and unassign_users share, raising in the user's words.
local checks = require "autopilot.checks"

describe("autopilot.checks", function()
  it("takes concurrency from 1 to 1024", function()
    assert.equal(1, checks.concurrency(1, "f", 1))
    assert.equal(1024, checks.concurrency(1024, "f", 1))
    assert.is_nil(checks.concurrency(nil, "f", 1))
    for _, bad in ipairs { 0, 1025, 1.5, -3, "8" } do
      assert.has_error(function() checks.concurrency(bad, "unassign_users", 1) end,
        "unassign_users: option 'concurrency' must be an integer from 1 to 1024, got " .. tostring(bad))
    end
  end)

  it("takes limit as a table of writes and seconds, or false", function()
    assert.same({ writes = 5, seconds = 2.5 }, checks.limit({ writes = 5, seconds = 2.5 }, "f", 1))
    assert.is_false(checks.limit(false, "f", 1))
    for _, case in ipairs {
      { { writes = 0, seconds = 1 }, "limit.writes" }, { { writes = 1, seconds = 0 }, "limit.seconds" },
      { { writes = 1, seconds = 0 / 0 }, "limit.seconds" }, { { writes = 1, seconds = math.huge }, "limit.seconds" },
      { { writes = 1, second = 1 }, "unknown key 'limit.second'" }, { "x", "option 'limit' must be a table" },
    } do
      local ok, err = pcall(checks.limit, case[1], "autopilot.connect", 1)
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
      assert.matches("^autopilot.connect: ", err)
    end
  end)

  it("raises where the user called from", function()
    local function user_facing(v)
      local c = checks.concurrency(v, "f", 2) -- not a tail call: that would drop this frame
      return c
    end
    local ok, err = pcall(function() user_facing(0) end) -- this line is the user's
    assert.is_false(ok)
    assert.matches("checks_spec.lua:%d+: f: option 'concurrency'", err)
  end)
end)
