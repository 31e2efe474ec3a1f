-- autopilot.core pacing (src/pacing.c): the write ceiling, adaptation to 429s, the pause, and $batch items
-- under the same policy as single writes. Every 429 here is caused on purpose: the emulator's throttle set
-- below the client's limit, in windows far longer than the test takes, so no spec races the clock.
local core = require "autopilot.core"
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

local PATH = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/"

local function token_url(emu) return emu.url .. "/" .. emu.tenant .. "/oauth2/v2.0/token" end

local function session(emu, opts)
  local o = { auth = { kind = "client_secret", token_url = token_url(emu), client_id = emu.client_id,
                       client_secret = emu.client_secret } }
  for k, v in pairs(opts or {}) do o[k] = v end
  return core.session(o)
end

local function unassign(emu, id, batch)
  return { method = "POST", url = emu.url .. PATH .. id .. "/unassignUserFromDevice", idempotent = true,
           batch = batch and (emu.url .. "/v1.0/$batch") or nil, tag = id }
end

-- polls until n results came back (or nothing is left)
local function collect(s, n)
  local got = {}
  while #got < n and s:pending() > 0 do
    for _, r in ipairs(s:poll()) do got[#got + 1] = r end
  end
  return got
end

local function count(counters, endpoint, status)
  local n = 0
  for st, c in pairs(counters[endpoint] or {}) do
    if not status or st == status then n = n + c end
  end
  return n
end

describe("autopilot.core pacing", function()
  local emu, ids

  before_each(function()
    emu = assert(emulator.start { devices = 60, seed = 9 })
    ids = tenant.ids(emu)
  end)

  after_each(function() emu:stop() end)

  it("never starts more writes than the limit allows in a window", function()
    local s = session(emu, { limit = { writes = 5, seconds = 600 }, concurrency = 16 })
    for i = 1, 8 do s:submit(unassign(emu, ids[i])) end
    local done = collect(s, 5)
    assert.equal(5, #done)
    local st = s:stats()
    assert.equal(5, st.writes)
    assert.equal(3, st.queued_writes)
    assert.is_true(st.write_wait > 500, "the next write waits for the window")
    assert.equal(5 / 600, st.write_rate)
    s:close()
    assert.equal(5, count(emu:state { log = false }.counters, "unassignUserFromDevice"))
  end)

  it("lowers its rate after a 429, never above the limit, and grows back while writes succeed", function()
    -- the service lets 6 writes through per 600 s; the client was told 40 per second, so all 20 writes
    -- leave in its first burst, before any answer: it finds out (its 429s carry no Retry-After, so the
    -- pause after each is a short backoff, not the window's 600 s)
    emu:configure { throttle = { enabled = true, app_writes = 6, window = 600, retry_after = { absent = 1 } } }
    local s = session(emu, { limit = { writes = 40, seconds = 1 }, max_retries = 0, concurrency = 20,
                             backoff_base = 0.01, backoff_cap = 0.01 })
    for i = 1, 20 do s:submit(unassign(emu, ids[i])) end
    local results = collect(s, 20)
    local throttled = 0
    for _, r in ipairs(results) do throttled = throttled + (r.status == 429 and 1 or 0) end
    assert.equal(14, throttled)
    local st = s:stats()
    assert.equal(14, st.throttled_writes)
    assert.is_true(st.adapted_rate < st.write_rate, "no decrease")
    -- the first 429 lowers it to what had not been refused yet; each later one (of writes already in
    -- flight) lowers it further, down to the 6 the service let through
    assert.equal(6, st.adapted_rate)
    local low = st.adapted_rate
    -- the service opens up: writes succeed, and the adapted rate climbs back, never past the limit
    emu:configure { throttle = false }
    for i = 21, 60 do s:submit(unassign(emu, ids[i])) end
    results = collect(s, 40)
    for _, r in ipairs(results) do assert.equal(204, r.status) end
    st = s:stats()
    assert.is_true(st.adapted_rate > low, "no growth: " .. st.adapted_rate)
    assert.is_true(st.adapted_rate <= st.write_rate)
    s:close()
  end)

  it("pauses every request after a 429 for its Retry-After", function()
    emu:configure { throttle = { enabled = true, app_writes = 1, window = 600 } }
    local s = session(emu, { limit = false, max_retries = 0 })
    local first = s:request(unassign(emu, ids[1]))
    assert.equal(204, first.status)
    local r = s:request(unassign(emu, ids[2]))
    assert.equal(429, r.status)
    assert.is_true(r.retry_after > 500)
    assert.is_true(s:stats().paused_seconds > 0)
    s:close()
  end)

  it("sends $batch items as 20 writes of budget in one request", function()
    local s = session(emu, { limit = { writes = 20, seconds = 600 }, concurrency = 4 })
    for i = 1, 40 do s:submit(unassign(emu, ids[i], true)) end
    local done = collect(s, 20)
    assert.equal(20, #done)
    for _, r in ipairs(done) do
      assert.equal(204, r.status)
      assert.equal(1, r.attempts)
      assert.is_string(r.headers["request-id"])
    end
    local st = s:stats()
    assert.equal(20, st.writes)
    assert.equal(20, st.batch_items)
    assert.equal(1, st.requests)
    assert.equal(20, st.queued_writes)
    s:close()
    local counters = emu:state { log = false }.counters
    assert.equal(1, count(counters, "batch"))
    assert.equal(20, count(counters, "unassignUserFromDevice"))
  end)

  it("retries a $batch item on its own, and max_retries reaches it", function()
    emu:configure { faults = { targets = { [ids[1]] = { "503", "503", "503" }, [ids[2]] = { "503" } } } }
    local s = session(emu, { limit = false, max_retries = 1, backoff_base = 0.01, backoff_cap = 0.02 })
    for i = 1, 3 do s:submit(unassign(emu, ids[i], true)) end
    local by = {}
    for _, r in ipairs(collect(s, 3)) do by[r.tag] = r end
    assert.equal(503, by[ids[1]].status) -- two 503s: the first send and its one retry
    assert.equal(2, by[ids[1]].attempts)
    assert.equal(204, by[ids[2]].status) -- one 503, then done
    assert.equal(2, by[ids[2]].attempts)
    assert.equal(204, by[ids[3]].status)
    assert.equal(1, by[ids[3]].attempts)
    assert.equal(2, s:stats().retries)
    s:close()
  end)

  it("shares the app's budget between two clients told the same limit", function()
    -- both believe they may write 20 per 6 s; the service allows 20 for the app in all (its window outlasts
    -- the spec), so exactly 20 succeed however the two interleave
    emu:configure { throttle = { enabled = true, app_writes = 20, window = 600, retry_after = { absent = 1 } } }
    local quick = { limit = { writes = 20, seconds = 6 }, max_retries = 0, concurrency = 20, backoff_base = 0.01,
                    backoff_cap = 0.01 }
    local a, b = session(emu, quick), session(emu, quick)
    for i = 1, 20 do
      a:submit(unassign(emu, ids[i]))
      b:submit(unassign(emu, ids[20 + i]))
    end
    local ok = 0
    while a:pending() + b:pending() > 0 do
      for _, s in ipairs { a, b } do
        for _, r in ipairs(s:poll(0.05)) do ok = ok + (r.status == 204 and 1 or 0) end
      end
    end
    assert.equal(20, ok) -- the service's budget, no more
    local sa, sb = a:stats(), b:stats()
    assert.equal(20, sa.throttled_writes + sb.throttled_writes)
    -- each learnt what it got: together they now ask no more than the service allows
    assert.is_true(sa.adapted_rate * 6 + sb.adapted_rate * 6 <= 20 + 1e-6,
      string.format("%g + %g", sa.adapted_rate * 6, sb.adapted_rate * 6))
    a:close()
    b:close()
  end)

  it("cancels a queued transfer, which comes back marked so", function()
    local s = session(emu, { limit = { writes = 1, seconds = 600 } })
    local first = s:submit(unassign(emu, ids[1]))
    local second = s:submit(unassign(emu, ids[2]))
    local r = collect(s, 1)[1]
    assert.equal(first, r.id)
    assert.is_true(s:cancel(second))
    assert.is_false(s:cancel(second))
    local c = s:poll(0)[1]
    assert.equal(second, c.id)
    assert.is_true(c.cancelled)
    assert.equal(0, c.attempts)
    assert.equal("Cancelled", require("autopilot.errors").from_result(c).code)
    s:close()
  end)
end)
