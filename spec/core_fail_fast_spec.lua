-- Fail fast on what retrying cannot heal, over real loopback sockets: an https URL on a plain-http server
-- (OpenSSL's "wrong version number"), a certificate nobody trusts, a malformed URL: one attempt, an error
-- naming the cause with a hint. A refused connection is still retried, and on_retry says what each retry
-- waits for. (An unresolvable host is classed the same way, but resolving a name would leave loopback.)
local core = require "autopilot.core"
local emulator = require "autopilot.emulator"
local files = require "files"
local tls = require "tls"

local function retries_seen()
  local events = {}
  return events, function(e) events[#events + 1] = e end
end

describe("autopilot.core fails fast", function()
  local emu, dir

  lazy_setup(function()
    emu = assert(emulator.start { app = "echo_app" })
    dir = files.tempdir()
  end)
  lazy_teardown(function()
    if emu then emu:stop() end
    if dir then files.remove(dir) end
  end)

  it("on an https URL to a plain-http server: no retry, a hint", function()
    local events, on_retry = retries_seen()
    local s <close> = core.session { max_retries = 4, backoff_base = 0.01, on_retry = on_retry }
    local r = s:request { url = (emu.url:gsub("^http:", "https:")) .. "/x" }
    assert.equal("SSL_CONNECT_ERROR", r.transport.code)
    assert.matches("is this URL https on a plain%-http server%?", r.transport.message)
    -- The plain server answers a TLS hello with a 400 and closes; on a loaded machine the close can reach
    -- curl first, as a reset, which may heal and is retried. The mismatch itself is never retried: the
    -- attempt that saw it was the last (retrying it would spend all 5 attempts on it).
    assert.is_true(r.attempts < 5, "retried after the mismatch: " .. r.attempts .. " attempts")
    assert.equal(r.attempts - 1, #events)
  end)

  it("on a token endpoint reached that way too: the auth failure carries the hint", function()
    local s <close> = core.session { max_retries = 4, backoff_base = 0.01,
      auth = { kind = "client_secret", client_id = "c", client_secret = "s",
               token_url = (emu.url:gsub("^http:", "https:")) .. "/token" } }
    local before = emu:state().requests
    local r = s:request { url = emu.url .. "/graph" }
    assert.equal("SSL_CONNECT_ERROR", r.auth.transport.code)
    assert.matches("plain%-http server", r.auth.transport.message)
    assert.equal(0, r.attempts) -- nothing went to Graph
    assert.equal(0, emu:state().requests - before)
  end)

  it("on a certificate nobody trusts: no retry, a hint", function()
    assert.truthy(tls.self_signed(dir, "tls", { cn = "127.0.0.1", loopback = true }))
    local secure <close> = assert(emulator.start { app = "echo_app", tls_cert = dir .. "/tls.crt",
                                                   tls_key = dir .. "/tls.key" })
    local s <close> = core.session { max_retries = 4, backoff_base = 0.01 }
    local r = s:request { url = secure.url .. "/x" }
    assert.equal("PEER_FAILED_VERIFICATION", r.transport.code)
    assert.matches("ca_file", r.transport.message)
    assert.equal(1, r.attempts)
    assert.equal(0, secure:state().requests)
  end)

  it("on a malformed URL: nothing sent", function()
    local s <close> = core.session { max_retries = 4 }
    local r = s:request { url = "http://127.0.0.1:99999/x" }
    assert.equal("URL_MALFORMAT", r.transport.code)
    assert.is_true(r.attempts <= 1)
    assert.equal(0, s:stats().retries)
  end)

  it("but retries a refused connection, saying what each retry waits for", function()
    local gone = assert(emulator.start { app = "echo_app" })
    local url = gone.url
    gone:stop() -- nothing listens on its port now
    local events, on_retry = retries_seen()
    local s <close> = core.session { max_retries = 2, backoff_base = 0.01, backoff_cap = 0.01, on_retry = on_retry }
    local r = s:request { url = url .. "/x", tag = "t" }
    assert.equal("COULDNT_CONNECT", r.transport.code)
    assert.equal(3, r.attempts)
    assert.equal(2, #events)
    assert.equal("connection refused", events[1].reason)
    assert.equal("COULDNT_CONNECT", events[1].code)
    assert.same({ 1, 2 }, { events[1].retry, events[2].retry })
    assert.equal(2, events[2].of)
    assert.equal("t", events[2].tag)
    -- enough for "retrying: connection refused (2 of 2, next in 0.0 s)"
    local line = ("retrying: %s (%d of %d, next in %.1f s)"):format(events[2].reason, events[2].retry,
      events[2].of, events[2].wait)
    assert.matches("^retrying: connection refused %(2 of 2, next in 0%.0 s%)$", line)
  end)

  it("reports a token request's retries as token = true", function()
    local gone = assert(emulator.start { app = "echo_app" })
    local url = gone.url
    gone:stop()
    local events, on_retry = retries_seen()
    local s <close> = core.session { max_retries = 1, backoff_base = 0.01, backoff_cap = 0.01, on_retry = on_retry,
      auth = { kind = "client_secret", client_id = "c", client_secret = "s", token_url = url .. "/token" } }
    local r = s:request { url = emu.url .. "/graph" }
    assert.equal("COULDNT_CONNECT", r.auth.transport.code)
    assert.equal(1, #events)
    assert.is_true(events[1].token)
  end)
end)
