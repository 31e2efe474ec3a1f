-- The emulator's control surface for clients in any language: the HTTP control path guarded by the admin
-- key (state, configure), and the command line's switches for apps, users, device-code approval, faults
-- and throttle. Requests go over real sockets (curl for the control path, the real client for Graph).
local autopilot = require "autopilot"
local emulator = require "autopilot.emulator"
local json = require("cjson.safe").new()
local files = require "files"
local shell = require "shell"
local process = require "emulator_process"
local tenant = require "tenant"

local q, sh = shell.quote, shell.run

-- One curl call: status and decoded body (or raw text).
local function curl(url, args)
  local out = sh("curl -sS -g --max-time 60 -w '\\n%{http_code}' " .. (args or "") .. " " .. q(url) .. " 2>&1")
  local body, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), json.decode(body or "") or body
end

-- Options for a device-code sign-in to the emulator's default (public) app.
local function device_code_options(emu, on_info)
  local o = tenant.options(emu, { device_code = on_info })
  o.client_secret = nil
  return o
end

local function key_header(emu) return "-H " .. q("X-Emulator-Key: " .. emu.admin_key) end

describe("emulator control path", function()
  it("answers nothing without the admin key, and counts nothing", function()
    local emu <close> = assert(emulator.start { devices = 3 })
    assert.matches("^[%w_-]+$", emu.admin_key)
    assert.is_true(#emu.admin_key >= 24)
    local status, body = curl(emu.url .. "/_emulator/state")
    assert.equal(401, status)
    assert.equal("Unauthorized", body.error.code)
    status = curl(emu.url .. "/_emulator/state", "-H 'X-Emulator-Key: " .. ("x"):rep(#emu.admin_key) .. "'")
    assert.equal(401, status)
    status = curl(emu.url .. "/_emulator/configure", "-d '{\"advance\":1000}'")
    assert.equal(401, status)
    local st = emu:state()
    assert.equal(0, st.requests)
    assert.equal(0, #st.log)
    assert.is_true(st.now < 1000)
  end)

  it("reads state with the key, in either header, with the same filters as Emulator:state", function()
    local emu <close> = assert(emulator.start { devices = 4 })
    local id = tenant.ids(emu, 1)[1]
    local status, st = curl(emu.url .. "/_emulator/state", key_header(emu))
    assert.equal(200, status)
    assert.equal(4, st.device_count)
    assert.equal(4, #st.devices)
    status, st = curl(emu.url .. "/_emulator/state?devices=false&log=false&device=" .. id,
      "-H " .. q("Authorization: Emulator " .. emu.admin_key))
    assert.equal(200, status)
    assert.is_nil(st.devices)
    assert.is_nil(st.log)
    assert.equal(id, st.device.id)
    -- nothing in the state names the key
    local text = sh("curl -sS -g " .. key_header(emu) .. " " .. q(emu.url .. "/_emulator/state"))
    assert.is_nil(text:find(emu.admin_key, 1, true))
    assert.equal(400, (curl(emu.url .. "/_emulator/state?log=many", key_header(emu))))
    assert.equal(405, (curl(emu.url .. "/_emulator/state", key_header(emu) .. " -d '{}'")))
    assert.equal(404, (curl(emu.url .. "/_emulator/stop", key_header(emu))))
  end)

  it("configures at run time: a targeted fault reaches the next unassign; a bad value changes nothing", function()
    local emu <close> = assert(emulator.start { devices = 2 })
    local id = tenant.ids(emu, 1)[1]
    local client = tenant.connect(emu, { max_retries = 0 })
    local body = json.encode { faults = { targets = { [id] = { "500" } } } }
    local status, reply = curl(emu.url .. "/_emulator/configure", key_header(emu) .. " -d " .. q(body))
    assert.equal(200, status)
    assert.same({ ok = true }, reply)
    local ok, err = client:unassign_user(id)
    assert.is_nil(ok)
    assert.equal(500, err.status)
    assert(client:unassign_user(id))
    status, reply = curl(emu.url .. "/_emulator/configure",
      key_header(emu) .. " -d " .. q(json.encode { consistency_delay = -1, advance = 500 }))
    assert.equal(400, status)
    assert.matches("consistency_delay", reply.error.message)
    assert.is_true(emu:state({ devices = false, log = false }).now < 500)
    assert.equal(400, (curl(emu.url .. "/_emulator/configure", key_header(emu) .. " -d 'not json'")))
    assert.equal(405, (curl(emu.url .. "/_emulator/configure", key_header(emu))))
    client:close()
  end)

  it("approves a device-code login by its user code", function()
    local emu <close> = assert(emulator.start { devices = 2, device_code = { interval = 1, expires_in = 30 } })
    local codes = {}
    local client = assert(autopilot.connect(device_code_options(emu, function(info)
      codes[#codes + 1] = info.user_code
      local body = json.encode { device_code = { approve = info.user_code } }
      assert.equal(200, (curl(emu.url .. "/_emulator/configure", key_header(emu) .. " -d " .. q(body))))
    end)))
    assert.equal(2, #assert(client:list_devices()))
    assert.equal(1, #codes)
    assert.equal("device_code", client:token_info().flow)
    client:close()
  end)

  it("is off with admin_key = false, and refuses a short key", function()
    local emu <close> = assert(emulator.start { devices = 1, admin_key = false })
    assert.is_nil(emu.admin_key)
    assert.equal(404, (curl(emu.url .. "/_emulator/state", "-H 'X-Emulator-Key: false'")))
    local ok, err = emulator.start { devices = 1, admin_key = "short" }
    assert.is_nil(ok)
    assert.matches("admin_key", err)
  end)
end)

describe("emulator command line", function()
  local CLI, spawn, finish = process.CLI, process.spawn, process.finish
  local READY = "admin_key: [^\n]*\n"

  it("registers apps and users, approves device codes, sets faults and limits from switches", function()
    local dir = files.tempdir()
    local id = "11111111-2222-4333-8444-555555555555"
    local p = spawn(table.concat({
      "--devices 3 --seed 4 --admin-key", q(("k"):rep(20)),
      "--register-app client_id=" .. id .. ",secret=RoSecret-0001,read-only,name=auditor",
      "--user bob@contoso.onmicrosoft.com --sign-in-user bob@contoso.onmicrosoft.com --approve-after 0",
      "--throttle-limits app_writes=1,window=3600",
    }, " "), READY)
    local url = p.lines[1]
    assert.matches("^http://127%.0%.0%.1:%d+$", url)
    assert.equal("admin_key: " .. ("k"):rep(20), p.lines[5])
    local emu = { url = url, tenant = p.lines[2]:match("^tenant: (.*)$"),
      client_id = p.lines[3]:match("^client_id: (.*)$"), client_secret = p.lines[4]:match("^client_secret: (.*)$"),
      admin_key = ("k"):rep(20) }
    local _, st = curl(url .. "/_emulator/state?log=false", key_header(emu))
    local ids = {}
    for i, d in ipairs(st.devices) do ids[i] = d.id end
    -- the read-only app lists but cannot write
    local ro = tenant.connect(emu, { client_id = id, client_secret = "RoSecret-0001", max_retries = 0 })
    assert.equal(3, #assert(ro:list_devices()))
    local ok, err = ro:unassign_user(ids[1])
    assert.is_nil(ok)
    assert.equal(403, err.status)
    ro:close()
    -- device code: approved at the first poll, signed in as bob
    local dc = assert(autopilot.connect(device_code_options(emu, function() end)))
    assert(dc:list_devices())
    assert.equal("bob@contoso.onmicrosoft.com", dc:token_info().user)
    -- one write per hour: the second is throttled
    local app = tenant.connect(emu, { max_retries = 0 })
    assert(app:unassign_user(ids[1]))
    ok, err = app:unassign_user(ids[2])
    assert.is_nil(ok)
    assert.equal(429, err.status)
    app:close()
    dc:close()
    assert.equal(0, (finish(p, "TERM")))
    files.remove(dir)
  end)

  it("targets faults at a device and reads a --config file, switches after it winning", function()
    local dir = files.tempdir()
    files.write(dir .. "/c.json", json.encode { devices = 5, seed = 2, latency = 1 })
    local p = spawn("--config " .. q(dir .. "/c.json") .. " --devices 2 --fault-retry-after 7", READY)
    local url = p.lines[1]
    local emu = { url = url, tenant = p.lines[2]:match("^tenant: (.*)$"), client_id = p.lines[3]:match(": (.*)$"),
      client_secret = p.lines[4]:match(": (.*)$"), admin_key = p.lines[5]:match(": (.*)$") }
    local _, st = curl(url .. "/_emulator/state?log=false", key_header(emu))
    assert.equal(2, st.device_count)
    finish(p, "TERM")
    local target = st.devices[1].id
    p = spawn("--seed 2 --devices 2 --fault-retry-after 7 --fault-target " .. target .. "=503+429", READY)
    emu.url = p.lines[1]
    emu.admin_key = p.lines[5]:match(": (.*)$")
    local client = tenant.connect(emu, { max_retries = 0 })
    local ok, err = client:unassign_user(target)
    assert.is_nil(ok)
    assert.equal(503, err.status)
    assert.equal(7, err.retry_after)
    ok, err = client:unassign_user(target)
    assert.is_nil(ok)
    assert.equal(429, err.status)
    assert(client:unassign_user(target))
    client:close()
    finish(p, "TERM")
    files.remove(dir)
  end)

  it("refuses bad switches with exit 2 and a message naming the switch", function()
    local cases = {
      { "--register-app secret=x", "client_id" },
      { "--register-app client_id=a", "secret=S, cert=FILE or public" },
      { "--register-app client_id=a,secret=b,colour=red", "colour" },
      { "--user nobody", "UPN" },
      { "--fault-target abc=teapot", "teapot" },
      { "--throttle-limits app_writes=-1", "app_writes" },
      { "--throttle-model round", "fixed, sliding or bucket" },
      { "--approve-after soon", "--approve-after" },
      { "--config /nonexistent/c.json", "--config" },
      { "--client-certificate /nonexistent.pem", "--client-certificate" },
    }
    for _, c in ipairs(cases) do
      local out, rc = sh(CLI .. " " .. c[1] .. " 2>&1")
      assert.equal(2, rc, c[1])
      assert.truthy(out:find(c[2], 1, true), c[1] .. ": " .. out)
    end
  end)
end)
