-- Embedding, the loop-independent part: the client's poll protocol (pollfd, events, timeout, step), calls of
-- an async client made inside coroutines yielding the client, many coroutines sharing one client with
-- their own results, the main thread still blocking, autopilot.async.run, and close under waiters. Real
-- client, real emulator, real sockets; nothing here depends on how fast the machine is.
local autopilot = require "autopilot"
local async = require "autopilot.async"
local tenant = require "tenant"
local embed = require "embed"

local MISSING = "00000000-0000-4000-8000-000000000000"

local function start(extra) return embed.start(11, extra) end

describe("embedding protocol", function()
  it("gives a host a descriptor, 'r', a timeout and a step that never blocks", function()
    local emu <close> = start { latency = false }
    local client = tenant.connect(emu, { async = true })
    local fd = client:pollfd()
    assert.is_true(math.type(fd) == "integer" and fd > 2)
    assert.equal("r", client:events())
    assert.is_nil(client:timeout()) -- nothing pending
    client:step() -- nothing to do: returns at once
    local co = coroutine.create(function() return client:device(tenant.devices(emu)[1].id) end)
    local ok, yielded = coroutine.resume(co)
    assert.is_true(ok)
    assert.equal(client, yielded) -- the call yielded the client itself
    assert.equal("suspended", coroutine.status(co))
    local t = client:timeout()
    assert.is_number(t) -- something pending: a time is due
    local d
    while coroutine.status(co) ~= "dead" do
      require("autopilot.core").wait_readable({ client:pollfd() }, client:timeout())
      ok, d = coroutine.resume(co)
      assert.is_true(ok, d)
    end
    assert.equal(tenant.devices(emu)[1].id, d.id)
    assert.equal(fd, client:pollfd()) -- one descriptor for the client's life
    assert.is_nil(client:timeout())
    client:close()
  end)

  it("blocks as before when called from the main thread, async or not", function()
    local emu <close> = start { latency = false }
    local client = tenant.connect(emu, { async = true })
    local id = tenant.devices(emu)[1].id
    assert.equal(id, assert(client:device(id)).id)
    assert.is_true(assert(client:unassign_user(id)))
    client:close()
    -- and a client without async blocks inside a coroutine too
    local plain = tenant.connect(emu)
    local co = coroutine.wrap(function() return plain:device(id) end)
    assert.equal(id, co().id)
    plain:close()
  end)

  it("runs 50 coroutines through one client at once, each with its own result", function()
    local emu <close> = start()
    local client = tenant.connect(emu, { async = true, concurrency = 16 })
    local devices = tenant.devices(emu)
    local fns = {}
    for i = 1, 50 do
      local id = i % 10 == 0 and MISSING or devices[i].id
      fns[i] = function() return client:unassign_user(id) end
    end
    local results = async.run(table.unpack(fns))
    for i = 1, 50 do
      local r = results[i]
      assert.is_true(r[1], tostring(r[2]))
      if i % 10 == 0 then -- the unknown device's 404 reaches only its own coroutine
        assert.is_nil(r[2])
        assert.equal(404, r[3].status)
      else
        assert.is_true(r[2], tostring(r[3]))
      end
    end
    local peak = embed.peak_in_flight(emu, "unassignUserFromDevice")
    assert.is_true(peak <= 16, "the concurrency cap holds: " .. peak)
    assert.is_true(peak >= 8, "the transfers overlapped: " .. peak)
    assert.equal(1, client:stats().tokens_fetched) -- one token for all of them
    for i = 1, 50 do
      if i % 10 ~= 0 then assert.equal("", emu:state { device = devices[i].id }.device.userPrincipalName) end
    end
    client:close()
  end)

  it("keeps one function's error to itself", function()
    local emu <close> = start { latency = false }
    local client = tenant.connect(emu, { async = true })
    local id = tenant.devices(emu)[2].id
    local results = async.run(function() error("boom") end, function() return client:device(id) end,
      function() coroutine.yield("not a client") end)
    assert.is_false(results[1][1])
    assert.matches("boom", results[1][2])
    assert.is_true(results[2][1])
    assert.equal(id, results[2][2].id)
    assert.is_false(results[3][1])
    assert.matches("not an async client", results[3][2])
    assert.has_error(function() async.run(42) end, "autopilot.async.run: argument 1 must be a function, got number")
    client:close()
  end)

  it("runs a bulk unassign with progress inside a coroutine, beside single calls", function()
    local emu <close> = start { latency = { fixed = 50 } }
    local client = tenant.connect(emu, { async = true })
    local devices = tenant.devices(emu)
    local ids, progress_in = {}, {}
    for i = 1, 30 do ids[i] = devices[i].id end
    local results = async.run(function()
      return client:unassign_users(ids, { progress = false, force = true, concurrency = 8,
        on_progress = function() progress_in[coroutine.running()] = true end })
    end, function()
      return client:device(devices[40].id)
    end)
    assert.is_true(results[1][1], tostring(results[1][2]))
    local report = assert(results[1][2], tostring(results[1][3]))
    assert.equal(30, report.succeeded)
    assert.equal(0, report.failed)
    local main = coroutine.running()
    for co in pairs(progress_in) do assert.are_not.equal(main, co) end -- in the calling coroutine
    assert.is_truthy(next(progress_in))
    assert.equal(devices[40].id, results[2][2].id)
    client:close()
  end)

  it("signs in with a device code inside a coroutine, the callback in that coroutine", function()
    local emu <close> = start { latency = false, device_code = { approve_after = 1, interval = 1 } }
    local fx = require "auth_fixtures"
    local shown_in
    local client = assert(autopilot.connect(fx.opts(emu, { client_id = emu.client_id, async = true,
      device_code = function() shown_in = coroutine.running() end })))
    local yields = 0
    local co = coroutine.create(function() return client:list_devices() end)
    local ok, v = coroutine.resume(co)
    while coroutine.status(co) ~= "dead" do
      assert.is_true(ok, tostring(v))
      assert.equal(client, v)
      yields = yields + 1
      require("autopilot.core").wait_readable({ client:pollfd() }, client:timeout())
      ok, v = coroutine.resume(co)
    end
    assert.is_true(ok, tostring(v))
    assert.equal(60, #v)
    assert.equal(co, shown_in)
    assert.is_true(yields >= 2, "it yielded while it polled: " .. yields) -- a 1 s poll interval, twice
    assert.equal("device_code", client:token_info().flow)
    client:close()
  end)

  it("answers coroutines still waiting when the client closes with ClientClosed", function()
    local emu <close> = start { latency = { fixed = 3000 } }
    local client = tenant.connect(emu, { async = true, concurrency = 2 })
    local devices = tenant.devices(emu)
    local fns = {}
    for i = 1, 5 do fns[i] = function() return client:unassign_user(devices[i].id) end end
    fns[6] = function() -- closes once the others are all waiting
      client:close()
      return "closed"
    end
    local results = async.run(table.unpack(fns))
    for i = 1, 5 do
      assert.is_true(results[i][1])
      assert.is_nil(results[i][2])
      assert.equal("ClientClosed", results[i][3].code)
      assert.equal("cancelled", results[i][3].kind)
    end
    assert.equal("closed", results[6][2])
    assert.is_nil(client:timeout())
    assert.has_error(function() client:pollfd() end, "autopilot.Client is closed")
  end)
end)
