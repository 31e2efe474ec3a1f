-- Bounds of the C core against servers that send too much, too slowly or absurd numbers: a cap on the body
-- (after decoding) and on the headers, a stall rule a trickle cannot evade, floors on token lifetimes and
-- device-code poll intervals, and paused_seconds that counts only pause already spent. Tiny limits and
-- targeted server behaviour (the echo app's x-reply-* headers, the tenant's token and device-code
-- settings); assertions on counts and on what the server saw, never on how long something took.
local core = require "autopilot.core"
local emulator = require "autopilot.emulator"

local function echo()
  return assert(emulator.start { app = "echo_app" })
end

describe("autopilot.core bounds", function()
  local emu

  lazy_setup(function() emu = echo() end)
  lazy_teardown(function() if emu then emu:stop() end end)

  describe("max_response_bytes", function()
    it("refuses a body over the cap without retrying, and takes one within it", function()
      local s <close> = core.session { max_response_bytes = 1024, max_retries = 3 }
      local before = emu:state().requests
      local r = s:request { url = emu.url .. "/big", headers = { ["x-reply-size"] = "5000" } }
      assert.is_nil(r.status)
      assert.is_nil(r.body)
      assert.equal("FILESIZE_EXCEEDED", r.transport.code)
      assert.matches("body exceed max_response_bytes %(1024 bytes%)", r.transport.message)
      assert.equal(1, r.attempts)
      assert.equal(1, emu:state().requests - before)
      local ok = s:request { url = emu.url .. "/small", headers = { ["x-reply-size"] = "1000" } }
      assert.equal(200, ok.status)
      assert.equal(1000, #ok.body)
    end)

    it("counts decoded bytes: a gzip reply far smaller than the cap on the wire is still refused", function()
      local s <close> = core.session { max_response_bytes = 1024, max_retries = 0 }
      -- 64 KiB of a ten-byte pattern is a few hundred bytes of gzip
      local r = s:request { url = emu.url .. "/bomb", headers = { ["x-reply-size"] = tostring(64 * 1024) } }
      assert.equal("gzip", r.headers["content-encoding"])
      assert.equal("FILESIZE_EXCEEDED", r.transport.code)
    end)

    it("is an integer option with a range", function()
      assert.has_error(function() core.session { max_response_bytes = 0 } end,
        "option 'max_response_bytes' must be an integer between 1 and 1099511627776 (got 0)")
      assert.has_error(function() core.session { max_header_bytes = 1.5 } end)
    end)
  end)

  describe("max_header_bytes", function()
    it("refuses headers over the cap with an error naming it, not OUT_OF_MEMORY", function()
      local s <close> = core.session { max_header_bytes = 512, max_retries = 3 }
      local big = "X-Big: " .. string.rep("a", 1000)
      local r = s:request { url = emu.url .. "/h", headers = { ["x-reply-header"] = big } }
      assert.equal("FILESIZE_EXCEEDED", r.transport.code)
      assert.matches("headers exceed max_header_bytes %(512 bytes%)", r.transport.message)
      assert.equal(1, r.attempts)
    end)
  end)

  describe("stall rule", function()
    -- The host's "trickle" fault sends the body at 10 bytes a second. Under curl's 1 B/s low-speed rule that
    -- is never a stall and the attempt ran to the full timeout ("Operation timed out after ..."); now it is
    -- a stall after stall_timeout: "Operation too slow".
    it("ends a trickled body as a stall, not at the full timeout", function()
      local s <close> = core.session { stall_timeout = 1, timeout = 60, max_retries = 0 }
      local r = s:request { url = emu.url .. "/trickle",
                            headers = { ["x-reply-size"] = "100000", ["x-reply-fault"] = "trickle" } }
      assert.equal("OPERATION_TIMEDOUT", r.transport.code)
      assert.matches("too slow", r.transport.message)
    end)
  end)

  describe("paused_seconds", function()
    it("counts no pause still scheduled after the call returned", function()
      local s <close> = core.session { max_retries = 0 }
      local t0 = core.clock()
      local r = s:request { url = emu.url .. "/throttled",
                            headers = { ["x-reply-status"] = "429", ["x-reply-header"] = "Retry-After: 30" } }
      local paused = s:stats().paused_seconds
      local elapsed = core.clock() - t0
      assert.equal(429, r.status)
      assert.is_true(paused <= elapsed, ("paused %g s in a call that took %g s"):format(paused, elapsed))
    end)
  end)

  describe("on_retry", function()
    it("tells what each retry waits for, with the tag, while the call waits", function()
      local events = {}
      local s <close> = core.session { max_retries = 2, backoff_base = 0.01, backoff_cap = 0.01,
                                       on_retry = function(e) events[#events + 1] = e end }
      local r = s:request { url = emu.url .. "/busy", tag = "mine", headers = { ["x-reply-status"] = "503" } }
      assert.equal(503, r.status)
      assert.equal(3, r.attempts)
      assert.equal(2, #events)
      for i, e in ipairs(events) do
        assert.equal(i, e.retry)
        assert.equal(2, e.of)
        assert.equal(503, e.status)
        assert.equal("HTTP 503 (service unavailable)", e.reason)
        assert.equal("mine", e.tag)
        assert.is_false(e.token)
        assert.is_true(e.wait >= 0)
      end
    end)

    it("ignores what the function raises", function()
      local calls = 0
      local s <close> = core.session { max_retries = 1, backoff_base = 0.01, backoff_cap = 0.01,
                                       on_retry = function() calls = calls + 1; error("printing failed") end }
      local r = s:request { url = emu.url .. "/busy", headers = { ["x-reply-status"] = "503" } }
      assert.equal(2, r.attempts)
      assert.equal(1, calls)
    end)

    it("must be a function", function()
      assert.has_error(function() core.session { on_retry = true } end,
        "option 'on_retry' must be a function (got boolean)")
    end)
  end)
end)

describe("autopilot.core floors on the identity platform's numbers", function()
  it("takes an expires_in of 1e-6 as a second: two tokens for one call, not a loop posting the secret", function()
    local tenant <close> = assert(emulator.start { devices = 2, seed = 4, token_lifetime = 1e-6 })
    local s <close> = core.session { max_retries = 0, auth = { kind = "client_secret", client_id = tenant.client_id,
      client_secret = tenant.client_secret, token_url = tenant.url .. "/" .. tenant.tenant .. "/oauth2/v2.0/token" } }
    s:submit { url = tenant.url .. "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities" }
    -- before the floor this never ended; the bound only keeps a regression from hanging the suite
    local results = s:poll(60)
    assert.equal(1, #results)
    -- the token is dead on arrival: Graph's 401 drops it, one more is fetched for the one retry, and the
    -- call ends with the 401
    assert.equal(401, results[1].status)
    assert.equal(2, results[1].attempts)
    assert.equal(2, tenant:state { devices = false, log = false }.identity.tokens_issued)
  end)

  it("polls a device code announced with interval 1e-6 at most once a second", function()
    local autopilot = require "autopilot"
    local tenant <close> = assert(emulator.start { devices = 2, seed = 9,
                                                    device_code = { approve_after = 2, interval = 1e-6 } })
    local client <close> = assert(autopilot.connect { graph_url = tenant.url, login_url = tenant.url,
      tenant = tenant.tenant, client_id = tenant.client_id, device_code = function() end })
    assert(client:list_devices())
    local polls = tenant:state { devices = false, log = false }.identity.device_code.polls
    assert.equal(3, #polls)
    for i = 2, #polls do
      assert.is_true(polls[i].time - polls[i - 1].time >= 0.9, "poll " .. i .. " came too early")
    end
  end)
end)
