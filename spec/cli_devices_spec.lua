-- bin/autopilot's commands on single devices and lists (list, show, unassign, assign, set, delete), the -v
-- trace and the Graph URL variables, as child processes against an emulator started here.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"
local shell = require "shell"
local files = require "files"
local paths = require "paths"
local child = require "cli_child"
local json = require "cjson"

local q = shell.quote

describe("bin/autopilot on devices", function()
  local emu, dir

  setup(function()
    emu = assert(emulator.start { devices = 40, seed = 33 })  -- 40: one serial is on two devices
    dir = files.tempdir()
  end)

  teardown(function()
    emu:stop()
    files.remove(dir)
  end)

  local function cli(args, o) return child.run(emu, dir, args, o) end
  local function keys(t)
    local k = {}
    for key in pairs(t) do k[#k + 1] = key end
    return k
  end
  local function count(endpoint) return tenant.count(emu:state { devices = false, log = false }.counters, endpoint) end
  local function current(id)
    for _, d in ipairs(tenant.devices(emu)) do
      if d.id == id then return d end
    end
    return nil
  end
  -- a device whose serial no other device has, with a user when `with_user`
  local function unique(with_user)
    local n = {}
    for _, d in ipairs(tenant.devices(emu)) do n[d.serialNumber] = (n[d.serialNumber] or 0) + 1 end
    return tenant.find_device(emu, function(d)
      return n[d.serialNumber] == 1 and not d.serialNumber:find("[%s%c'\"]")
        and (not with_user or tenant.has_user(d))
    end)
  end

  it("lists at most --top devices with one request, as a table, CSV, JSON or JSON lines", function()
    local before = count("list")
    local out, err, status = cli("list --top 5")
    assert.equal(0, status, err)
    assert.equal(before + 1, count("list"))
    assert.matches("5 device(s)", err, 1, true)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(6, #lines)
    assert.matches("^id%s+serialNumber%s+userPrincipalName%s+groupTag%s+model$", lines[1])

    out, err, status = cli("list --output csv --columns id,serialNumber")
    assert.equal(0, status, err)
    local devices = tenant.devices(emu)
    assert.equal("id,serialNumber", out:match("^[^\n]+"))
    assert.matches("\n" .. devices[1].id .. ",", out, 1, true)

    local _
    out, _, status = cli("list --output json")
    assert.equal(0, status)
    assert.equal(#devices, #json.decode(out))

    out, _, status = cli("list --json --top 3 --columns id")
    assert.equal(0, status)
    local n = 0
    for l in out:gmatch("[^\n]+") do
      n = n + 1
      assert.same({ "id" }, keys(json.decode(l)))
    end
    assert.equal(3, n)
  end)

  it("exits 2 for a bad --output, --top or --columns, sending nothing", function()
    local before = count("list")
    for _, a in ipairs { "--output xml", "--top 0", "--top x", "--columns 'id;model'", "--json --output csv",
                         "extra-word" } do
      local _, err, status = cli("list " .. a)
      assert.equal(2, status, a)
      assert.matches("try 'autopilot --help'", err, 1, true)
    end
    assert.equal(before, count("list"))
  end)

  it("shows and unassigns a device by --serial, and exits 1 for a serial nobody has", function()
    local d = unique(true)
    local out, err, status = cli("show --serial " .. q(" " .. d.serialNumber .. " "))
    assert.equal(0, status, err)
    assert.matches("id%s+" .. d.id:gsub("%p", "%%%0"), out)
    out, err, status = cli("show --json --serial " .. q(d.serialNumber))
    assert.equal(0, status, err)
    assert.equal(d.id, json.decode(out).id)
    out, err, status = cli("unassign --serial " .. q(d.serialNumber))
    assert.equal(0, status, err)
    assert.equal(d.id .. "\tunassigned\n", out)
    assert.equal("", current(d.id).userPrincipalName)
    local _
    _, err, status = cli("show --serial NO-SUCH-SERIAL-X")
    assert.equal(1, status)
    assert.matches("no device has serial number 'NO-SUCH-SERIAL-X'", err, 1, true)
    _, err, status = cli("show " .. d.id .. " --serial " .. q(d.serialNumber))
    assert.equal(2, status)
    assert.matches("an id or --serial, not both", err, 1, true)
  end)

  it("refuses a serial that two devices share (exit 1), naming both ids, sending no write", function()
    local by = {}
    for _, d in ipairs(tenant.devices(emu)) do
      by[d.serialNumber] = by[d.serialNumber] or {}
      table.insert(by[d.serialNumber], d.id)
    end
    local serial, ids
    for s, list in pairs(by) do
      if #list > 1 and not s:find("[%s%c'\"]") then serial, ids = s, list end
    end
    assert.truthy(serial, "seed 33 with 40 devices has a duplicated serial")
    local before = count("unassignUserFromDevice")
    local _, err, status = cli("unassign --serial " .. q(serial))
    assert.equal(1, status)
    assert.matches(#ids .. " devices have serial number '" .. serial .. "': give one id", err, 1, true)
    for _, id in ipairs(ids) do assert.matches(id, err, 1, true) end
    assert.equal(before, count("unassignUserFromDevice"))
  end)

  it("assigns a user with --upn and --user-name, and needs --upn (exit 2, nothing sent)", function()
    local d = unique(false)
    local before = count("assignUserToDevice")
    local _, err, status = cli("assign " .. d.id)
    assert.equal(2, status)
    assert.matches("assign needs --upn", err, 1, true)
    assert.equal(before, count("assignUserToDevice"))
    local out
    out, err, status = cli("assign " .. d.id .. " --upn new.user@contoso.com --user-name 'New User'")
    assert.equal(0, status, err)
    assert.equal(d.id .. "\tassigned\tnew.user@contoso.com\n", out)
    local now = current(d.id)
    assert.equal("new.user@contoso.com", now.userPrincipalName)
    assert.equal("New User", now.addressableUserName)
    _, err, status = cli("assign " .. d.id .. " --upn 'not a upn'")
    assert.equal(1, status)
    assert.matches("InvalidUserPrincipalName", err, 1, true)
  end)

  it("sets the group tag and display name (updateDeviceProperties), and needs one of them", function()
    local d = unique(false)
    local out, err, status = cli("set --serial " .. q(d.serialNumber) .. " --group-tag Lab-7 --display-name KIOSK-7")
    assert.equal(0, status, err)
    assert.equal(d.id .. "\tupdated\n", out)
    local now = current(d.id)
    assert.equal("Lab-7", now.groupTag)
    assert.equal("KIOSK-7", now.displayName)
    local _
    _, err, status = cli("set " .. d.id)
    assert.equal(2, status)
    assert.matches("set needs --group-tag TAG or --display-name NAME", err, 1, true)
  end)

  it("deletes only when confirmed: refuses without a terminal, asks on one, or takes --yes", function()
    local a, b = tenant.devices(emu)[1], tenant.devices(emu)[2]
    local before = count("delete")
    local _, err, status = cli("delete " .. a.id)
    assert.equal(2, status)
    assert.matches("not a terminal: add --yes", err, 1, true)
    local out
    out, _, status = cli("delete " .. a.id, { tty = "n" })
    assert.equal(2, status, out)
    assert.matches("Delete the Autopilot registration of device " .. a.id .. "? [y/N]", out, 1, true)
    assert.matches("not confirmed: nothing sent", out, 1, true)
    assert.equal(before, count("delete"))
    assert.truthy(current(a.id))
    out, _, status = cli("delete " .. a.id, { tty = "y" })
    assert.equal(0, status, out)
    assert.matches(a.id .. "\tdeleted", out, 1, true)
    assert.is_nil(current(a.id))
    out, err, status = cli("delete --yes " .. b.id)
    assert.equal(0, status, err)
    assert.equal(b.id .. "\tdeleted\n", out)
    assert.is_nil(current(b.id))
    assert.equal(before + 2, count("delete"))
  end)

  it("traces each request with -v: method, URL, status, request-id; never the secret or a token", function()
    local d = tenant.devices(emu)[3]
    local out, err, status = cli("-v show " .. d.id)
    assert.equal(0, status, err)
    assert.matches(d.id, out, 1, true)
    local log = emu:state { devices = false, log = 1 }.log
    local last = log[#log]
    local line = "> GET " .. emu.url .. "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/" .. d.id
      .. " -> 200 request-id=" .. last["request-id"] .. " attempts=1 "
    assert.matches(line, err, 1, true)
    assert.not_matches(emu.client_secret, err, 1, true)
    assert.not_matches("Bearer", err, 1, true)
    assert.not_matches("eyJ", err, 1, true)
  end)

  it("reads AUTOPILOT_GRAPH_URL and AUTOPILOT_LOGIN_URL, and refuses a Graph URL without a login URL", function()
    local urls = "AUTOPILOT_GRAPH_URL=" .. q(emu.url) .. " AUTOPILOT_LOGIN_URL=" .. q(emu.url)
    local out, err, status = cli("list --top 1", { urls = false, env = child.app_env(emu) .. " " .. urls })
    assert.equal(0, status, err)
    assert.matches("1 device(s)", err, 1, true)
    assert.matches(tenant.devices(emu)[1].id, out, 1, true)
    local identity = count("identity")
    local _
    _, err, status = cli("list", { urls = false, env = child.app_env(emu) .. " AUTOPILOT_GRAPH_URL=" .. q(emu.url) })
    assert.equal(2, status)
    assert.matches("AUTOPILOT_GRAPH_URL names a Graph other than Microsoft's", err, 1, true)
    _, err, status = cli("--graph-url " .. q(emu.url) .. " list", { urls = false })
    assert.equal(2, status)
    assert.matches("--graph-url names a Graph other than Microsoft's: give --login-url", err, 1, true)
    assert.equal(identity, count("identity"))
  end)

  it("refuses --json (or any flag) on a command that has no use for it, never ignoring it (exit 2)", function()
    local d = tenant.devices(emu)[4]
    local before = count("unassignUserFromDevice")
    local _, err, status = cli("--json unassign " .. d.id)
    assert.equal(2, status)
    assert.matches("--json is not an option of 'unassign' (see autopilot help unassign)", err, 1, true)
    assert.equal(before, count("unassignUserFromDevice"))
  end)

  it("speaks flags, not option names, in its messages", function()
    local _, err, status = cli("--graph-url ftp://x --login-url ftp://x list", { urls = false })
    assert.equal(1, status)
    assert.matches("--graph-url must be an http(s) URL", err, 1, true)
    assert.not_matches("graph_url", err, 1, true)
  end)

  it("points connect() with no table at AUTOPILOT_GRAPH_URL, refused without AUTOPILOT_LOGIN_URL", function()
    local script = q("local a = require 'autopilot'; local c, e = a.connect(); "
      .. "if not c then print('refused: ' .. tostring(e)) os.exit(0) end; "
      .. "print(c.graph_url, #assert(c:list_devices()))")
    local base = "env -u AUTOPILOT_LOGIN_URL -u AZURE_AUTHORITY_HOST " .. paths.env() .. " " .. child.app_env(emu)
      .. " AUTOPILOT_GRAPH_URL=" .. q(emu.url)
    local out = shell.output(base .. " AUTOPILOT_LOGIN_URL=" .. q(emu.url) .. " lua5.4 -e " .. script)
    assert.equal(emu.url .. "\t" .. #tenant.devices(emu) .. "\n", out)
    out = shell.output(base .. " lua5.4 -e " .. script)
    assert.matches("refused: .*AUTOPILOT_GRAPH_URL names a Graph other than Microsoft's", out)
  end)
end)
