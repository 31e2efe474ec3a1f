-- The `stop` option of unassign_users and restore: polled between steps, it ends a run without loss. Once it
-- returns true no new write starts; what was written is journaled, the rest is `not_attempted`, the report
-- says `interrupted`, and the same call with the same journal finishes the job. With concurrency 1 a write is
-- only sent after the previous one was answered, so "stop after N writes" is exact.
local journal_mod = require "autopilot.bulk.journal"
local tenant = require "tenant"

local function opts(extra)
  local o = { progress = false, concurrency = 1, limit = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("bulk stop", function()
  local emu, client, dir

  tenant.each_test({ devices = 12, seed = 7 }, function(e, c, d) emu, client, dir = e, c, d end)

  local function writes_of(id) return emu:state { device = id, log = false }.device_writes end
  local function total_writes()
    local n = 0
    for _, c in pairs(emu:state { devices = false, log = false }.writes) do n = n + c end
    return n
  end
  -- a stop function that turns true once the emulator has seen n writes
  local function after_writes(n, why)
    return function() return total_writes() >= n and (why or true) end
  end

  it("stops after N writes: those are journaled, the rest not_attempted; the rerun finishes once each", function()
    local targets = tenant.ids(emu)
    local journal = dir .. "/run.jsonl"
    local report = assert(client:unassign_users(targets, opts { journal = journal, force = true,
                                                                 stop = after_writes(3, "SIGINT") }))
    assert.is_true(report.interrupted)
    assert.equal("SIGINT", report.interrupted_by)
    assert.equal(3, report.succeeded)
    assert.equal(#targets - 3, report.counts.not_attempted)
    assert.equal(#targets - 3, report.failed)
    assert.is_nil(report.error)
    assert.matches("; interrupted (SIGINT)", tostring(report), 1, true)
    for _, r in ipairs(report.results) do
      if r.outcome == "not_attempted" then
        assert.equal("the run was interrupted before this device (SIGINT)", r.message)
        assert.equal(0, r.attempts)
      end
    end
    assert.equal(3, total_writes())
    local st = assert(journal_mod.read(journal))
    local done = 0
    for _ in pairs(st.done) do done = done + 1 end
    assert.equal(3, done)
    assert.equal(0, st.torn)

    local again = assert(client:unassign_users(targets, opts { journal = journal, force = true }))
    assert.is_false(again.interrupted)
    assert.equal(#targets - 3, again.succeeded)
    assert.equal(3, again.counts.done_before)
    for _, id in ipairs(targets) do assert.equal(1, writes_of(id), id) end
  end)

  it("sends nothing when stop is true from the start", function()
    local targets = tenant.ids(emu, 5)
    local report = assert(client:unassign_users(targets, opts { force = true, stop = function() return true end }))
    assert.is_true(report.interrupted)
    assert.is_nil(report.interrupted_by)
    assert.equal(5, report.counts.not_attempted)
    assert.equal(0, total_writes())
    assert.matches("; interrupted$", tostring(report))
  end)

  it("stops a restore the same way", function()
    local with_user = tenant.with_user(emu)
    local targets = {}
    for i = 1, 6 do targets[i] = with_user[i].id end
    local journal = dir .. "/run.jsonl"
    assert.equal(6, assert(client:unassign_users(targets, opts { journal = journal })).succeeded)
    local report = assert(client:restore(journal, opts { stop = after_writes(6 + 2) }))
    assert.equal("restore", report.action)
    assert.is_true(report.interrupted)
    assert.equal(2, report.succeeded)
    assert.equal(4, report.counts.not_attempted)
    assert.equal(8, total_writes())
  end)

  it("does not retry a write that was on the wire when the run stopped, even when it comes back with a 429",
    function()
      -- one write admitted, the next three answered 429 (Retry-After: the rest of a 300 s window); every answer
      -- held back 3 s, so all four are on the wire when the emulator has seen them and stop turns true
      emu:configure { throttle = { app_writes = 1, window = 300 } }
      assert(client:list_devices { top = 1 }) -- the token, before the latency
      local targets = tenant.ids(emu, 4)
      local plan_done = false
      local function seen()
        local st = emu:state { devices = false, log = false }
        local n = st.throttled
        for _, c in pairs(st.writes) do n = n + c end
        return n
      end
      local report = assert(client:unassign_users(targets, opts {
        force = true, concurrency = 4,
        stop = function()
          if not plan_done then
            plan_done = true
            emu:configure { latency = { fixed = 3000 } }
          end
          return seen() >= 4
        end,
      }))
      emu:configure { latency = false }
      assert.is_true(report.interrupted)
      assert.equal(1, report.succeeded)
      assert.equal(3, report.counts.failed)
      for _, r in ipairs(report.results) do
        if r.outcome == "failed" then assert.equal("the run was interrupted before this device's retry", r.message) end
      end
      local st = emu:state { devices = false, log = false }
      assert.equal(3, st.throttled) -- no retry was sent
    end)

  it("refuses a stop that is not a function, naming the option", function()
    assert.has_error(function() client:unassign_users({}, { stop = true }) end,
      "unassign_users: option 'stop' must be a function, got boolean")
    assert.has_error(function() client:restore({}, { stop = "SIGINT" }) end,
      "restore: option 'stop' must be a function, got string")
  end)

  it("is not written to the journal's run header (no function there)", function()
    local journal = dir .. "/run.jsonl"
    assert(client:unassign_users(tenant.ids(emu, 2), opts { journal = journal, force = true,
                                                            stop = function() return false end }))
    local header = io.lines(journal)()
    assert.not_matches("stop", header, 1, true)
  end)
end)
