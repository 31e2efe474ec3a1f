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

-- One write in such a run stalls until stall_timeout (30 s by default) and is then retried: a bug of the
-- core's HTTP/2 path, open (see the pending spec below). A short stall_timeout keeps the run short meanwhile.
local STALL = 3

local have_nghttpx = select(2, sh("command -v nghttpx >/dev/null 2>&1")) == 0

-- Starts nghttpx in front of `backend_port`; tries ports until one is free. Returns the port and pid.
local function start_proxy(dir, backend_port)
  for _ = 1, 20 do
    local port = math.random(20000, 59000)
    local cmd = ("nghttpx --frontend=%s --backend=%s --workers=1 --accesslog-file=%s --accesslog-format=%s"
      .. " --errorlog-file=%s --no-ocsp --conf=/dev/null %s %s >/dev/null 2>&1 & echo $!"):format(
      q("127.0.0.1," .. port), q("127.0.0.1," .. backend_port), q(dir .. "/access.log"),
      q("$remote_port $alpn $method $path $status"), q(dir .. "/error.log"), q(dir .. "/c.key"), q(dir .. "/c.crt"))
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
  setup(function()
    dir = files.tempdir()
    assert.truthy(tls.self_signed(dir, "c", { cn = "127.0.0.1", loopback = true }))
    -- links the emulator writes (nextLink) must name the front, which speaks https
    emu = assert(emulator.start { devices = 60, seed = 12, latency = 20, scheme = "https" })
    port, pid = start_proxy(dir, emu.port)
  end)
  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    if emu then emu:stop() end
    files.remove(dir)
  end)

  it("unassigns every device over one multiplexed connection, retrying a 503 and a 429", function()
    local ids, assigned = {}, {}
    for i, d in ipairs(tenant.devices(emu)) do
      ids[i] = d.id
      if d.userPrincipalName ~= "" then assigned[#assigned + 1] = d.id end
    end
    local f503, f429 = assigned[3], assigned[7]
    emu:configure { faults = { retry_after = 1, targets = { [f503] = { "503" }, [f429] = { "429" } } } }
    local front = "https://127.0.0.1:" .. port
    local client = tenant.connect({ url = front, tenant = emu.tenant, client_id = emu.client_id,
      client_secret = emu.client_secret }, { ca_file = dir .. "/c.crt", stall_timeout = STALL })
    local report = assert(client:unassign_users(ids, { concurrency = 16, progress = false }))
    assert.equal(#assigned, report.succeeded)
    assert.equal(60, report.succeeded + report.skipped)
    assert.equal(0, report.failed)
    for _, d in ipairs(tenant.devices(emu)) do assert.equal("", d.userPrincipalName) end
    client:close()

    local ports, protocols, writes = {}, {}, 0
    for line in (files.read(dir .. "/access.log") or ""):gmatch("[^\n]+") do
      local p, alpn, method = line:match("^(%d+) (%S+) (%S+)")
      if p and not line:find("^%d+ %S+ GET / ") then -- the readiness probe's own connections
        ports[p], protocols[alpn] = true, true
        if method == "POST" then writes = writes + 1 end
      end
    end
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

  -- Found by this spec: through nghttpx, one write of the run above never gets its answer and is retried
  -- once stall_timeout passes (stats().retries is 1, the emulator counts no lost write, nghttpx logs only
  -- the retry; curl's own --parallel over the same proxy does not stall). Not yet explained.
  pending("no write stalls over HTTP/2 (one does, until stall_timeout: open)")
end)
