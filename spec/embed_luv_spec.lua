-- Embedding in a real luv (libuv) loop: coroutines spawned with autopilot.luv share one async client while
-- the loop's own 10 ms timer keeps ticking; a bulk run and a device-code sign-in inside coroutines; close
-- while coroutines wait. "Ticked throughout" is shown by order, not by time: ticks came before the first
-- reply, and between the first and the last.
local uv = require "luv"
local ap_luv = require "autopilot.luv"
local autopilot = require "autopilot"
local tenant = require "tenant"
local embed = require "embed"

local function start(extra) return embed.start(12, extra) end

-- A 10 ms repeating timer that counts until stopped.
local function ticker()
  local t = { n = 0, handle = uv.new_timer() }
  t.handle:start(10, 10, function() t.n = t.n + 1 end)
  function t.stop() t.handle:stop(); t.handle:close() end
  return t
end

-- Stops the ticker once every task is done (so uv.run returns).
local function stop_when_done(tasks, tick)
  local left = #tasks
  for _, task in ipairs(tasks) do
    task.on_done = function()
      left = left - 1
      if left == 0 then tick.stop() end
    end
  end
end

describe("autopilot.luv", function()
  it("runs 50 coroutines through one client while the loop's timer ticks", function()
    local emu <close> = start()
    local client = tenant.connect(emu, { async = true, concurrency = 16 })
    local devices = tenant.devices(emu)
    local tick = ticker()
    local tasks, ticks_at = {}, {}
    for i = 1, 50 do
      tasks[i] = ap_luv.spawn(function(id)
        local ok, err = client:unassign_user(id)
        ticks_at[#ticks_at + 1] = tick.n
        return ok, err
      end, devices[i].id)
    end
    stop_when_done(tasks, tick)
    uv.run()
    for i = 1, 50 do
      assert.is_true(tasks[i].done and tasks[i].ok, tostring(tasks[i].error))
      assert.is_true(tasks[i].results[1], tostring(tasks[i].results[2]))
    end
    assert.equal(50, #ticks_at)
    assert.is_true(ticks_at[1] >= 1, "the timer ticked before the first reply")
    assert.is_true(ticks_at[50] > ticks_at[1], "the timer ticked between the first reply and the last")
    local peak = embed.peak_in_flight(emu, "unassignUserFromDevice")
    assert.is_true(peak >= 8 and peak <= 16, "up to 16 in flight at the emulator: " .. peak)
    client:close()
    uv.run() -- libuv finishes closing the client's handles
  end)

  it("runs a bulk unassign with progress inside a coroutine", function()
    local emu <close> = start { latency = { fixed = 50 } }
    local client = tenant.connect(emu, { async = true })
    local devices = tenant.devices(emu)
    local ids = {}
    for i = 1, 40 do ids[i] = devices[i].id end
    local tick = ticker()
    local progress_ticks = {}
    local task = ap_luv.spawn(function()
      return client:unassign_users(ids, { progress = false, force = true, concurrency = 4,
        on_progress = function() progress_ticks[#progress_ticks + 1] = tick.n end })
    end)
    stop_when_done({ task }, tick)
    uv.run()
    assert.is_true(task.ok, tostring(task.error))
    local report = assert(task.results[1], tostring(task.results[2]))
    assert.equal(40, report.succeeded)
    assert.is_true(#progress_ticks >= 2)
    assert.is_true(progress_ticks[#progress_ticks] > progress_ticks[1], "the timer ticked during the run")
    client:close()
    uv.run()
  end)

  it("signs in with a device code inside a coroutine while the timer ticks", function()
    local emu <close> = start { latency = false, device_code = { approve_after = 2, interval = 1 } }
    local fx = require "auth_fixtures"
    local tick = ticker()
    local shown_at
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, async = true,
      device_code = function() shown_at = tick.n end })))
    local task = ap_luv.spawn(function() return client:list_devices() end)
    stop_when_done({ task }, tick)
    uv.run()
    assert.is_true(task.ok, tostring(task.error))
    assert.equal(60, #assert(task.results[1]))
    assert.is_number(shown_at)
    assert.is_true(tick.n > shown_at, "the timer ticked while the client polled for the sign-in")
    client:close()
    uv.run()
  end)

  it("resumes coroutines waiting on a client closed from the loop with ClientClosed", function()
    local emu <close> = start { latency = { fixed = 5000 } }
    local client = tenant.connect(emu, { async = true, concurrency = 2 })
    local devices = tenant.devices(emu)
    local tasks = {}
    for i = 1, 4 do
      tasks[i] = ap_luv.spawn(function() return client:unassign_user(devices[i].id) end)
    end
    local closer = uv.new_timer()
    closer:start(20, 0, function() closer:close(); client:close() end)
    uv.run()
    for i = 1, 4 do
      assert.is_true(tasks[i].done and tasks[i].ok, tostring(tasks[i].error))
      assert.is_nil(tasks[i].results[1])
      assert.equal("ClientClosed", tasks[i].results[2].code)
    end
  end)

  it("runs one function to its end with run, raising what it raises", function()
    local emu <close> = start { latency = false }
    local client = tenant.connect(emu, { async = true })
    local id = tenant.devices(emu)[1].id
    assert.equal(id, ap_luv.run(function() return client:device(id) end).id)
    assert.has_error(function() ap_luv.run(function() error("boom", 0) end) end, "boom")
    assert.has_error(function() ap_luv.spawn(42) end, "autopilot.luv.spawn: fn must be a function, got number")
    client:close()
    uv.run()
  end)
end)
