-- HTTP/2: a bulk unassign through nghttpx (Debian nghttp2-proxy) as a TLS HTTP/2 front of the emulator.
-- Every device is done, the client multiplexes its 16 concurrent requests over one connection (the proxy's
-- access log names each request's client port and protocol), and retries and pacing work as on HTTP/1.1
-- (a 503 and a 429 aimed at two devices are retried; the emulator's log shows them).
local emulator = require "autopilot.emulator"
local files = require "files"
local shell = require "shell"
local tenant = require "tenant"
local tls = require "tls"

local q, sh = shell.quote, shell.run

local have_nghttpx = select(2, sh("command -v nghttpx >/dev/null 2>&1")) == 0

-- Starts nghttpx in front of `backend_port`; tries ports until one is free. Returns the port and pid.
-- --conf=/dev/null matters: Debian's /etc/nghttpx/nghttpx.conf declares backend=127.0.0.1,80, which nghttpx
-- adds to ours and round-robins with it; a request it sends there (nothing listens) can hang in nghttpx's
-- failover until the client's stall_timeout (the retries below count it; the access log names each
-- answered request's backend).
local function start_proxy(dir, backend_port)
  for _ = 1, 20 do
    local port = math.random(20000, 59000)
    local cmd = ("nghttpx --frontend=%s --backend=%s --workers=1 --accesslog-file=%s --accesslog-format=%s"
      .. " --errorlog-file=%s --no-ocsp --conf=/dev/null %s %s >/dev/null 2>&1 & echo $!"):format(
      q("127.0.0.1," .. port), q("127.0.0.1," .. backend_port), q(dir .. "/access.log"),
      q("$remote_port $alpn $method $path $status $backend_port"), q(dir .. "/error.log"), q(dir .. "/c.key"),
      q(dir .. "/c.crt"))
    local pid = tonumber(sh(cmd):match("%d+"))
    for _ = 1, 100 do -- ready when it answers; gone when the port was taken
      local out = sh("curl -sk -o /dev/null -w '%{http_code}' --http2 https://127.0.0.1:" .. port .. "/ 2>/dev/null")
      if out:match("^%d+$") and out ~= "000" then return port, pid end
      if select(2, sh("kill -0 " .. pid .. " 2>/dev/null")) ~= 0 then break end
      os.execute("sleep 0.05")
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
  error("nghttpx did not start: " .. (files.read(dir .. "/error.log") or ""))
end

describe("HTTP/2 through nghttpx", function()
  if not have_nghttpx then
    pending("nghttpx is not installed (scripts/deps.sh installs nghttp2-proxy)")
    return
  end

  local dir, emu, port, pid
  -- a fresh tenant and proxy for each run: a run unassigns every device
  before_each(function()
    dir = files.tempdir()
    assert.truthy(tls.self_signed(dir, "c", { cn = "127.0.0.1", loopback = true }))
    -- links the emulator writes (nextLink) must name the front, which speaks https
    emu = assert(emulator.start { devices = 60, seed = 12, latency = 20, scheme = "https" })
    port, pid = start_proxy(dir, emu.port)
  end)
  after_each(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    if emu then emu:stop() end
    files.remove(dir)
    dir, emu, port, pid = nil, nil, nil, nil
  end)

  -- The bulk unassign of every device at concurrency 16 through the proxy, with a 503 and a 429 aimed at
  -- the plan's reads of two assigned devices; the default stall_timeout (30 s). Returns the report, the
  -- client's stats, the assigned ids and the two faulted ones.
  local function bulk()
    local ids, assigned = {}, {}
    for i, d in ipairs(tenant.devices(emu)) do
      ids[i] = d.id
      if d.userPrincipalName ~= "" then assigned[#assigned + 1] = d.id end
    end
    local f503, f429 = assigned[3], assigned[7]
    emu:configure { faults = { retry_after = 1, targets = { [f503] = { "503" }, [f429] = { "429" } } } }
    local client = tenant.connect({ url = "https://127.0.0.1:" .. port, tenant = emu.tenant,
      client_id = emu.client_id, client_secret = emu.client_secret }, { ca_file = dir .. "/c.crt" })
    local report = assert(client:unassign_users(ids, { concurrency = 16, progress = false }))
    local stats = client:stats()
    client:close()
    return report, stats, assigned, f503, f429
  end

  it("unassigns every device over one multiplexed connection, retrying a 503 and a 429", function()
    local report, _, assigned, f503, f429 = bulk()
    assert.equal(#assigned, report.succeeded)
    assert.equal(60, report.succeeded + report.skipped)
    assert.equal(0, report.failed)
    for _, d in ipairs(tenant.devices(emu)) do assert.equal("", d.userPrincipalName) end

    local ports, protocols, backends, writes = {}, {}, {}, 0
    for line in (files.read(dir .. "/access.log") or ""):gmatch("[^\n]+") do
      local p, alpn, method, backend = line:match("^(%d+) (%S+) (%S+) %S+ %S+ (%S+)$")
      if p and not line:find("^%d+ %S+ GET / ") then -- the readiness probe's own connections
        ports[p], protocols[alpn], backends[backend] = true, true, true
        if method == "POST" then writes = writes + 1 end
      end
    end
    assert.same({ [tostring(emu.port)] = true }, backends) -- every answer came from the emulator
    local n = 0
    for _ in pairs(ports) do n = n + 1 end
    assert.equal(1, n, "connections used")
    assert.same({ h2 = true }, protocols)
    -- the two faulted devices were each written twice
    local st = emu:state { devices = false }
    -- the targeted faults hit each device's first request (the plan's read), which was retried
    local seen = {}
    for _, e in ipairs(st.log) do
      local id = e.path:match("windowsAutopilotDeviceIdentities/([^/?]+)")
      if id == f503 or id == f429 then
        seen[id] = seen[id] or {}
        table.insert(seen[id], math.tointeger(e.status))
      end
    end
    assert.same({ 503, 200, 204 }, seen[f503])
    assert.same({ 429, 200, 204 }, seen[f429])
    assert.is_true(writes >= #assigned) -- every unassign (and the token request) went through the proxy
    assert.equal(1, st.faults["503"])
    assert.equal(1, st.faults["429"])
  end)

  -- Once seen: one write stalled until stall_timeout and was retried. The cause was the proxy, not the
  -- client: without --conf=/dev/null nghttpx also round-robins to Debian's default backend 127.0.0.1:80
  -- (see start_proxy). With one backend, the only retries are the two the faults ask for.
  it("retries nothing but the 503 and the 429: no request stalls", function()
    local report, stats = bulk()
    assert.equal(0, report.failed)
    assert.equal(2, stats.retries) -- the 503's and the 429's, once each
    assert.equal(1, stats.throttled) -- the 429
    assert.equal(1, stats.connections)
    local st = emu:state { devices = false }
    assert.equal(1, st.faults["503"])
    assert.equal(1, st.faults["429"])
  end)
end)
