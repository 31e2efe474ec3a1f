-- A bulk run through injected faults: 2,000 devices, 5% 503, 2% 504, 1% connection resets, Intune's
-- throttling with every Retry-After form (whole and decimal seconds, HTTP-date, absent), and access tokens
-- that expire during the run. Every device must end unassigned and accounted for, with no early retry.
-- The emulator's clock runs 50 times as fast, so a 20 s throttle window lasts 0.4 real seconds.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

local N = 2000
local SCALE = 50

describe("bulk run under faults", function()
  it("unassigns every device, accounts for each, and never retries early", function()
    local emu <close> = assert(emulator.start {
      devices = N, seed = 23, time_scale = SCALE,
      latency = { median = 15, p99 = 60 },
      throttle = { retry_after = { integer = 1, decimal = 1, date = 1, absent = 1 } },
      faults = { ["503"] = 0.05, ["504"] = 0.02, reset = 0.01, retry_after = 1 },
      token_lifetime = 120, -- emulated seconds: 2.4 real seconds, several expiries per run
    })
    local client <close> = tenant.connect(emu)
    -- the ids are known up front, so the faults hit the writes (a listing has its own specs)
    local ids = tenant.ids(emu)
    -- 429s do not depend on outrunning the throttle (a slow machine never would): 20 devices are answered
    -- 429 once, whatever the budget says
    local targets = {}
    for i = 100, N, 100 do targets[ids[i]] = { "429" } end
    emu:configure { faults = { ["503"] = 0.05, ["504"] = 0.02, reset = 0.01, retry_after = 1, targets = targets } }

    -- a budget a little above the emulated service's (100 writes per window), so that more may come back
    local seen_progress = 0
    local report = assert(client:unassign_users(ids, {
      concurrency = 16, limit = { writes = 105, seconds = 20 / SCALE }, force = true, progress = false,
      on_progress = function(p)
        seen_progress = seen_progress + 1
        assert.is_true(p.done <= p.total)
      end,
    }))

    assert.are.equal(N, report.succeeded, report:summary())
    assert.are.equal(0, report.failed)
    assert.are.equal(N, #report.results)
    assert.is_nil(report.error)
    local retried = 0
    for _, r in ipairs(report.results) do
      assert.are.equal("unassigned", r.outcome)
      assert.are.equal(204, r.status)
      assert.is_string(r.request_id)
      assert.is_true(r.attempts >= 1)
      if r.attempts > 1 then retried = retried + 1 end
    end
    assert.is_true(retried > 0)
    assert.is_true(seen_progress > 0)

    local st = emu:state { log = false }
    assert.are.equal(0, st.early_retries)
    -- each target is answered 429 once: a fault refused earlier (401, a throttle's 429) waits for the next
    assert.are.equal(20, st.faults["429"])
    assert.is_true((st.faults["503"] or 0) > 0 and (st.faults["504"] or 0) > 0 and (st.faults.reset or 0) > 0)
    for _, d in ipairs(st.devices) do
      assert.are.equal("", d.userPrincipalName)
      assert.is_true(st.writes[d.id] >= 1)
    end
    assert.is_true(client:stats().tokens_fetched >= 2, "no token expired during the run")
    assert.is_true(report.retries > 0)
    assert.is_true(report.throttled >= 20)
    assert.is_true(report.paused_seconds > 0)
  end)
end)
