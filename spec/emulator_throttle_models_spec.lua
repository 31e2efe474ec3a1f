-- The throttle's models over real sockets: fixed windows, a sliding window over arrival times, a token
-- bucket; the comma-list Retry-After; the early-retry counter judging a retry against the Retry-After it
-- sent. Windows are long (1,000 emulated seconds) and time moves by `advance`, so the real time a request
-- takes, even under valgrind, is a rounding error beside every gap asserted.
local emulator = require "autopilot.emulator"
local peer = require "graph_peer"
local tenant = require "tenant"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local function unassign_path(id) return P1 .. "/" .. id .. "/unassignUserFromDevice" end

local function start(throttle)
  local emu = assert(emulator.start({ devices = 20, seed = 3, throttle = throttle }))
  return emu, peer.connect(emu), tenant.ids(emu)
end

-- the wait a 429 asks for, as a number (its first value for a comma list)
local function wait_of(r)
  assert.equal(429, r.status)
  return tonumber((r.headers["retry-after"] or ""):match("^[%d.]+"))
end

local function between(lo, hi, x)
  assert.is_true(x > lo and x <= hi, string.format("%s not in (%s, %s]", tostring(x), lo, hi))
end

describe("emulated Graph: throttle models", function()
  local emu, call, ids
  after_each(function() emu:stop() end)

  it("fixed: a window's budget, then the rest of the window; a new window is a full budget", function()
    emu, call, ids = start({ model = "fixed", app_writes = 3, window = 1000, retry_after = "decimal" })
    for i = 1, 3 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    between(990, 1000, wait_of(call("POST", unassign_path(ids[4]))))
    emu:configure({ advance = 1000 })
    for i = 4, 6 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    assert.equal(429, call("POST", unassign_path(ids[7])).status)
  end)

  it("sliding: counts arrivals in any window, and frees one slot as each ages out", function()
    emu, call, ids = start({ model = "sliding", app_writes = 3, window = 1000, retry_after = "decimal" })
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    emu:configure({ advance = 500 })
    for i = 2, 3 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    -- full: the wait is until the first arrival ages out, 500 s from here
    between(490, 500, wait_of(call("POST", unassign_path(ids[4]))))
    emu:configure({ advance = 500 })
    assert.equal(204, call("POST", unassign_path(ids[4])).status) -- one slot back, not a new window
    between(490, 500, wait_of(call("POST", unassign_path(ids[5]))))
    local st = emu:state({ devices = false, log = false })
    assert.equal(2, st.throttled)
  end)

  it("bucket: a full bucket of the limit, refilled continuously at limit / window", function()
    emu, call, ids = start({ model = "bucket", app_writes = 4, window = 1000, retry_after = "decimal" })
    for i = 1, 4 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    between(240, 250, wait_of(call("POST", unassign_path(ids[5])))) -- one token takes 1000 / 4 s
    emu:configure({ advance = 125 })
    between(115, 125, wait_of(call("POST", unassign_path(ids[5])))) -- half a token back
    emu:configure({ advance = 125 })
    assert.equal(204, call("POST", unassign_path(ids[5])).status)
    between(240, 250, wait_of(call("POST", unassign_path(ids[6]))))
  end)

  it("applies each model to the tenant's budget and to all requests too", function()
    for _, model in ipairs({ "fixed", "sliding", "bucket" }) do
      emu, call, ids = start({ model = model, app_requests = 2, window = 1000 })
      local dev = P1 .. "/" .. ids[1]
      assert.equal(200, call("GET", dev).status)
      assert.equal(200, call("GET", dev).status)
      assert.equal(429, call("GET", dev).status, model)
      emu:stop()
    end
    emu = start({ model = "sliding", tenant_writes = 1, window = 1000 })
    call, ids = peer.connect(emu), tenant.ids(emu)
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    assert.equal(429, call("POST", unassign_path(ids[2])).status)
  end)

  it("refuses an unknown model, naming the key", function()
    emu = start(true)
    local ok, err = pcall(emu.configure, emu, { throttle = { model = "leaky" } })
    assert.is_false(ok)
    assert.matches("throttle.model", tostring(err))
  end)

  it("sends the comma-list form, its first value the real wait", function()
    emu, call, ids = start({ app_writes = 1, window = 1000, retry_after = "list" })
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    local r = call("POST", unassign_path(ids[2]))
    local first, second = r.headers["retry-after"]:match("^(%d+),(%d+)$")
    between(990, 1000, tonumber(first))
    assert.is_true(tonumber(second) > tonumber(first))
  end)
end)

describe("emulated Graph: early retries judged against the Retry-After sent", function()
  local emu, call, ids
  after_each(function() emu:stop() end)

  -- The service asks for 600 s more than its window needs: after 30 s the window admits the retry, but the
  -- client was told to wait 620 s, so the retry is early.
  for _, form in ipairs({ "date", "list", "integer" }) do
    it("counts a retry before the " .. form .. " Retry-After as early, though the window admits it", function()
      emu, call, ids = start({ app_writes = 1, window = 20, retry_after = form, retry_after_extra = 600 })
      assert.equal(204, call("POST", unassign_path(ids[1])).status)
      local r = call("POST", unassign_path(ids[2]))
      assert.equal(429, r.status)
      assert.is_string(r.headers["retry-after"])
      emu:configure({ advance = 30 })
      assert.equal(204, call("POST", unassign_path(ids[2])).status)
      assert.equal(1, emu:state({ devices = false, log = false }).early_retries)
    end)
  end

  it("counts a retry after the HTTP-date as on time", function()
    emu, call, ids = start({ app_writes = 1, window = 20, retry_after = "date", retry_after_extra = 600 })
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    assert.equal(429, call("POST", unassign_path(ids[2])).status)
    emu:configure({ advance = 700 })
    assert.equal(204, call("POST", unassign_path(ids[2])).status)
    assert.equal(0, emu:state({ devices = false, log = false }).early_retries)
  end)

  it("counts nothing when it sent no Retry-After", function()
    emu, call, ids = start({ app_writes = 1, window = 20, retry_after = "absent" })
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    assert.equal(429, call("POST", unassign_path(ids[2])).status)
    assert.equal(429, call("POST", unassign_path(ids[2])).status) -- at once: nothing told, nothing early
    assert.equal(0, emu:state({ devices = false, log = false }).early_retries)
  end)
end)
