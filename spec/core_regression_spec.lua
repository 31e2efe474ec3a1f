-- autopilot.core regressions found in review, over real sockets against the emulator host on loopback
-- (the echo app of spec/support/echo_app.lua, whose request headers steer its replies).
local core = require "autopilot.core"
local emulator = require "autopilot.emulator"

local function start_echo()
  local emu, err = emulator.start{ app = "echo_app" }
  assert(emu, err)
  return emu
end

describe("autopilot.core regressions", function()
  local emu

  lazy_setup(function() emu = start_echo() end)
  lazy_teardown(function() if emu then emu:stop() end end)

  it("a 429 with a huge Retry-After pauses the session no longer than max_retry_wait", function()
    local s = core.session{ max_retry_wait = 1, max_retries = 3 }
    local r = s:request{ url = emu.url .. "/throttled",
                         headers = { ["x-reply-status"] = "429", ["x-reply-header"] = "Retry-After: 999999999" } }
    assert.equal(429, r.status)
    assert.equal(1, r.attempts) -- the wait is beyond max_retry_wait: returned as is
    assert.is_true(s:stats().paused_seconds <= 1)
    -- the next request is not held back for the service's ~31 years
    s:submit{ url = emu.url .. "/after", tag = "after" }
    local got = s:poll(30)
    assert.equal(1, #got)
    assert.equal("after", got[1].tag)
    assert.equal(200, got[1].status)
    s:close()
  end)

  -- Secret-holding buffers (the token request's form, the token reply) grow by copy-and-wipe rather than
  -- realloc, so no stale copy of a secret is left in freed memory. Freed memory cannot be read from a
  -- spec; this drives that growth path (a form and a reply well past the first 1 KiB block) and checks
  -- the secret still reaches the endpoint intact and the 200 reply without a token is never passed on.
  it("a long client secret reaches the token endpoint intact through the wiping buffer growth", function()
    local secret = string.rep("s3cr3t~+/=", 400) -- 4000 bytes, many of them percent-encoded
    local s = core.session{ max_retries = 0,
                            auth = { kind = "client_secret", token_url = emu.url .. "/token", client_id = "echo",
                                     client_secret = secret } }
    local r = s:request{ url = emu.url .. "/graph" }
    assert.is_table(r.auth)
    assert.equal(200, r.auth.status)
    assert.is_nil(r.auth.body) -- a 2xx reply without a usable token is never passed on
    assert.is_nil(r.status)
    local last = emu:state().last
    assert.equal("/token", last.target)
    local got = last.body:match("client_secret=([^&]*)")
    got = got:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    assert.equal(secret, got)
    s:close()
  end)

  it("token_info's expires_at stays right when the token endpoint grants a huge lifetime", function()
    local tenant_emu = assert(emulator.start{ devices = 2, seed = 3, token_lifetime = 1e30 })
    local s = core.session{ auth = { kind = "client_secret", client_id = tenant_emu.client_id,
                            client_secret = tenant_emu.client_secret,
                            token_url = tenant_emu.url .. "/" .. tenant_emu.tenant .. "/oauth2/v2.0/token" } }
    local r = s:request{ url = tenant_emu.url .. "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities" }
    tenant_emu:stop()
    assert.equal(200, r.status)
    local info = s:token_info()
    s:close()
    assert.is_true(info.has_token)
    assert.is_true(info.expires_at > os.time()) -- was the cast's overflow: math.mininteger
  end)
end)
