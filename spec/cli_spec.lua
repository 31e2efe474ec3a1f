-- bin/autopilot, the administrator's command line, run as a child process against an emulator started here,
-- with the credentials in its environment only.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"
local shell = require "shell"
local files = require "files"
local paths = require "paths"

local q = shell.quote

describe("bin/autopilot", function()
  local emu, dir

  setup(function()
    emu = assert(emulator.start { devices = 30, seed = 21 })
    dir = files.tempdir()
  end)

  teardown(function()
    emu:stop()
    files.remove(dir)
  end)

  local function counters()
    return emu:state { devices = false, log = false }.counters
  end

  -- Runs the CLI (after the shell commands in `prefix`, if any); returns stdout, stderr and the exit status.
  local function cli(args, env, prefix)
    env = env or ("AZURE_TENANT_ID=" .. q(emu.tenant) .. " AZURE_CLIENT_ID=" .. q(emu.client_id)
      .. " AZURE_CLIENT_SECRET=" .. q(emu.client_secret))
    local err = dir .. "/stderr"
    local cmd = (prefix or "") .. "env -u AUTOPILOT_ACCESS_TOKEN -u AZURE_TENANT_ID -u AZURE_CLIENT_ID "
      .. "-u AZURE_CLIENT_SECRET -u AZURE_CLIENT_CERTIFICATE_PATH -u AUTOPILOT_GRAPH_URL -u AUTOPILOT_LOGIN_URL "
      -- never the operator's own sign-in from `autopilot login`
      .. "AUTOPILOT_TOKEN_CACHE=" .. q(dir .. "/tokens.json") .. " " .. paths.env() .. " " .. env
      .. " TERM=dumb lua5.4 bin/autopilot "
      .. "--graph-url " .. q(emu.url) .. " --login-url " .. q(emu.url) .. " " .. args .. " 2>" .. q(err)
      .. " </dev/null"
    local out, status = shell.run(cmd)
    return out, files.slurp(err), status
  end

  it("prints its usage with --help and exits 0", function()
    local out, _, status = cli("--help")
    assert.equal(0, status)
    assert.matches("usage: autopilot", out, 1, true)
  end)

  it("exits 2 on an unknown option or command, sending nothing", function()
    local before = tenant.count(counters(), "list")
    local _, err, status = cli("--bogus list")
    assert.equal(2, status)
    assert.matches("unknown option --bogus", err, 1, true)
    _, err, status = cli("frobnicate")
    assert.equal(2, status)
    assert.matches("unknown command", err, 1, true)
    _, _, status = cli("")
    assert.equal(2, status)
    assert.equal(before, tenant.count(counters(), "list"))
  end)

  it("lists every device, as text and as JSON lines", function()
    local devices = tenant.devices(emu)
    local out, err, status = cli("list")
    assert.equal(0, status)
    assert.matches(#devices .. " device(s)", err, 1, true)
    for _, d in ipairs(devices) do assert.matches(d.id, out, 1, true) end
    out, err, status = cli("--json list")
    assert.equal(0, status, err)
    local json = require "cjson"
    local n = 0
    for line in out:gmatch("[^\n]+") do
      assert.is_string(json.decode(line).id)
      n = n + 1
    end
    assert.equal(#devices, n)
  end)

  it("shows one device, and exits 1 for an unknown or malformed id", function()
    local d = tenant.find_device(emu)
    local out, _, status = cli("show " .. d.id)
    assert.equal(0, status)
    assert.matches("serialNumber%s+" .. d.serialNumber:gsub("%p", "%%%0"), out)
    local _, err
    _, err, status = cli("show 00000000-0000-4000-8000-000000000000")
    assert.equal(1, status)
    assert.matches("404", err, 1, true)
    _, err, status = cli("show not-a-guid")
    assert.equal(1, status)
    assert.matches("InvalidDeviceId", err, 1, true)
  end)

  it("unassigns a good id, and exits 1 for a malformed one with nothing sent for it", function()
    local d = tenant.find_device(emu)
    local before = tenant.count(counters(), "unassignUserFromDevice")
    local out, _, status = cli("unassign " .. d.id .. " " .. q("../" .. d.id))
    assert.equal(1, status)
    assert.matches(d.id .. "\tunassigned", out, 1, true)
    assert.matches("InvalidDeviceId", out, 1, true)
    assert.equal(before + 1, tenant.count(counters(), "unassignUserFromDevice"))
    for _, x in ipairs(tenant.devices(emu)) do
      if x.id == d.id then assert.equal("", x.userPrincipalName) end
    end
    out, _, status = cli("unassign " .. d.id)
    assert.equal(0, status)
    assert.matches(d.id .. "\tunassigned", out, 1, true)
  end)

  it("plans a bulk run from an Intune CSV (BOM, CRLF, quoted cells) with --dry-run, sending no write", function()
    local count = {}
    for _, x in ipairs(tenant.devices(emu)) do count[x.serialNumber] = (count[x.serialNumber] or 0) + 1 end
    local picked = {}
    for _, x in ipairs(tenant.with_user(emu)) do
      if count[x.serialNumber] == 1 and not x.serialNumber:find('[",]') and #picked < 2 then
        picked[#picked + 1] = x
      end
    end
    assert.equal(2, #picked)
    local csv = dir .. "/devices.csv"
    files.write(csv, "\239\187\191Device Serial Number,Windows Product ID,Hardware Hash\r\n"
      .. '"' .. picked[1].serialNumber .. '",,"a,b"\r\n' .. picked[2].serialNumber .. ',"x ""y""",\r\n'
      .. "NO-SUCH-SERIAL,,\r\n")
    local before = tenant.count(counters(), "unassignUserFromDevice")
    local out, _, status = cli("bulk --dry-run --report " .. q(dir .. "/report.csv") .. " " .. q(csv))
    assert.equal(1, status, out)   -- NO-SUCH-SERIAL was not found: not "all done"
    assert.matches("(dry run): 2 to unassign, 1 skipped, of 3 targets", out, 1, true)
    assert.equal(before, tenant.count(counters(), "unassignUserFromDevice"))
    local report = files.slurp(dir .. "/report.csv")
    for _, x in ipairs(picked) do
      assert.matches(x.id .. "," .. x.serialNumber .. ",would_unassign", report, 1, true)
    end
    assert.matches("unknown", report, 1, true)
    -- the same CSV without the unknown serial plans cleanly: exit 0
    files.write(csv, "Device Serial Number\n" .. picked[1].serialNumber .. "\n" .. picked[2].serialNumber .. "\n")
    out, _, status = cli("bulk --dry-run " .. q(csv))
    assert.equal(0, status, out)
    assert.equal(before, tenant.count(counters(), "unassignUserFromDevice"))
    _, _, status = cli("bulk --dry-run --concurrency 0 " .. q(csv))
    assert.equal(2, status)
  end)

  -- regression: filters given with a CSV were ignored, so every row of the CSV was unassigned
  it("refuses a CSV together with filters (exit 2), sending nothing", function()
    local d = tenant.find_device(emu)
    local csv = dir .. "/both.csv"
    files.write(csv, "id\n" .. d.id .. "\n")
    local function sent()
      local st = counters()
      return tenant.count(st, "get") + tenant.count(st, "list") + tenant.count(st, "unassignUserFromDevice")
    end
    local before = sent()
    local _, err, status = cli("bulk --group-tag NoSuchTag " .. q(csv))
    assert.equal(2, status)
    assert.matches("not both", err, 1, true)
    assert.equal(before, sent())
  end)

  -- regression: a journal that could not record the last write stopped the run with no device failed,
  -- and the CLI exited 0 although a resume could not know that device was done
  it("exits 1 when the journal cannot be written", function()
    local d = tenant.find_device(emu)
    local csv, journal = dir .. "/last.csv", dir .. "/last.jsonl"
    files.write(csv, "id\n" .. d.id .. "\n")
    -- 700 bytes already there: the run's header line (~225 bytes) still fits under a 1024-byte file size
    -- limit, the device's line (~220 bytes) does not
    files.write(journal, '{"run":{"pad":"' .. string.rep("x", 700 - 18) .. '"}}\n')
    local out, err, status = cli("bulk --journal " .. q(journal) .. " " .. q(csv),
      nil, "ulimit -f 2; trap '' XFSZ; ")
    assert.equal(1, status, out .. err)
    assert.matches("cannot write journal", out, 1, true)
    assert.matches("1 unassigned", out, 1, true)
  end)

  -- regression: after such a stop, a $batch item answered 429 was put back for a retry that never came, left
  -- with no outcome, and the report raised "table index is nil" instead of being returned
  it("gives every $batch item an outcome when the journal fails in the middle of a reply", function()
    local ds = tenant.with_user(emu)
    local csv, journal = dir .. "/two.csv", dir .. "/two.jsonl"
    files.write(csv, "id\n" .. ds[1].id .. "\n" .. ds[2].id .. "\n")
    files.write(journal, '{"run":{"pad":"' .. string.rep("x", 700 - 18) .. '"}}\n')
    -- one write allowed per window: the first item succeeds (its journal line fails), the second gets 429
    emu:configure { throttle = { enabled = true, app_writes = 1 } }
    local out, err, status = cli("bulk --batch --journal " .. q(journal) .. " " .. q(csv),
      nil, "ulimit -f 2; trap '' XFSZ; ")
    emu:configure { throttle = false }
    assert.equal(1, status, out .. err)
    assert.falsy(err:find("traceback", 1, true), err)
    assert.matches("1 unassigned, 1 failed, 0 skipped, of 2", out, 1, true)
    assert.matches("cannot write journal", out, 1, true)
  end)

  it("exits 1 without credentials, and never reads a secret from the arguments", function()
    local _, err, status = cli("list", "")
    assert.equal(1, status)
    assert.matches("no credentials", err, 1, true)
    _, err, status = cli("--client-secret x list")
    assert.equal(2, status)
    assert.matches("unknown option", err, 1, true)
  end)

  it("exits 1 when a bulk run cannot start or a device fails", function()
    local _, err, status = cli("bulk " .. q(dir .. "/missing.csv"))
    assert.equal(1, status)
    assert.matches("InvalidTargets", err, 1, true)
    local d = tenant.find_device(emu)
    files.write(dir .. "/one.csv", "id\n" .. d.id .. "\n")
    local fails = {}
    for i = 1, 10 do fails[i] = "500" end
    emu:configure { faults = { targets = { [d.id] = fails } } }
    local out
    out, _, status = cli("bulk --force " .. q(dir .. "/one.csv"))
    emu:configure { faults = false }
    assert.equal(1, status, out)
    assert.matches("1 failed", out, 1, true)
  end)
end)
