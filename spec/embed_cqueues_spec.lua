-- Embedding in a real cqueues controller: async clients are cqueues pollables, and autopilot.cqueues
-- bridges the client's plain yields (which Debian's cqueues would pass up as multilevel yields) to
-- cqueues.poll. 50 coroutines share one client while a ticking coroutine sleeps 10 ms at a time; a bulk
-- run and a device-code sign-in inside coroutines; close while coroutines wait.
local cqueues = require "cqueues"
local ap_cq = require "autopilot.cqueues"
local autopilot = require "autopilot"
local tenant = require "tenant"
local embed = require "embed"

local function start(extra) return embed.start(13, extra) end

-- A coroutine on cq that counts 10 ms sleeps until `done()` is true.
local function ticker(cq, done)
  local t = { n = 0 }
  cq:wrap(function()
    while not done() do
      cqueues.sleep(0.01)
      t.n = t.n + 1
    end
  end)
  return t
end

describe("autopilot.cqueues", function()
  it("runs 50 coroutines through one client while a ticking coroutine runs", function()
    local emu <close> = start()
    local client = tenant.connect(emu, { async = true, concurrency = 16 })
    local devices = tenant.devices(emu)
    local cq = cqueues.new()
    local results, ticks_at = {}, {}
    local tick = ticker(cq, function() return #ticks_at == 50 end)
    for i = 1, 50 do
      ap_cq.wrap(cq, function(id)
        results[i] = table.pack(client:unassign_user(id))
        ticks_at[#ticks_at + 1] = tick.n
      end, devices[i].id)
    end
    assert(cq:loop())
    for i = 1, 50 do assert.is_true(results[i][1], tostring(results[i][2])) end
    assert.is_true(ticks_at[1] >= 1, "the ticker ran before the first reply")
    assert.is_true(ticks_at[50] > ticks_at[1], "the ticker ran between the first reply and the last")
    local peak = embed.peak_in_flight(emu, "unassignUserFromDevice")
    assert.is_true(peak >= 8 and peak <= 16, "up to 16 in flight at the emulator: " .. peak)
    client:close()
  end)

  it("passes cqueues' own yields through: a sleep inside a bridged function", function()
    local emu <close> = start { latency = false }
    local client = tenant.connect(emu, { async = true })
    local id = tenant.devices(emu)[1].id
    local cq = cqueues.new()
    local got
    ap_cq.wrap(cq, function()
      cqueues.sleep(0.01)
      got = client:device(id)
      cqueues.sleep(0.01)
    end)
    assert(cq:loop())
    assert.equal(id, got.id)
    client:close()
  end)

  it("runs a bulk unassign with progress, and a device-code sign-in, inside coroutines", function()
    local emu <close> = start { latency = { fixed = 50 }, device_code = { approve_after = 1, interval = 1 } }
    local fx = require "auth_fixtures"
    local shown
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, async = true,
      device_code = function() shown = coroutine.running() end })))
    local devices = tenant.devices(emu)
    local ids = {}
    for i = 1, 30 do ids[i] = devices[i].id end
    local cq = cqueues.new()
    local report, rerr, progress = nil, nil, 0
    local finished = false
    local tick = ticker(cq, function() return finished end)
    local progress_ticks = {}
    ap_cq.wrap(cq, function()
      report, rerr = client:unassign_users(ids, { progress = false, force = true, concurrency = 4,
        on_progress = function() progress = progress + 1; progress_ticks[#progress_ticks + 1] = tick.n end })
      finished = true
    end)
    assert(cq:loop())
    assert(report, tostring(rerr))
    assert.equal(30, report.succeeded)
    assert.is_not_nil(shown) -- the sign-in ran inside the bridged coroutine
    assert.are_not.equal(coroutine.running(), shown)
    assert.is_true(progress >= 2)
    assert.is_true(progress_ticks[#progress_ticks] > progress_ticks[1], "the ticker ran during the run")
    assert.equal("device_code", client:token_info().flow)
    client:close()
  end)

  it("wakes coroutines waiting on a client closed by another with ClientClosed", function()
    local emu <close> = start { latency = { fixed = 5000 } }
    local client = tenant.connect(emu, { async = true, concurrency = 2 })
    local devices = tenant.devices(emu)
    local cq = cqueues.new()
    local results = {}
    for i = 1, 4 do
      ap_cq.wrap(cq, function() results[i] = table.pack(client:unassign_user(devices[i].id)) end)
    end
    cq:wrap(function()
      cqueues.sleep(0.02)
      client:close()
    end)
    assert(cq:loop())
    for i = 1, 4 do
      assert.is_nil(results[i][1])
      assert.equal("ClientClosed", results[i][2].code)
    end
  end)
end)
