-- bin/autopilot's runs over many devices, bulk and undo: per-device dry-run lines, the confirmation asked
-- above a number of devices (refused without a terminal), --json, reports; as child processes against an
-- emulator started here.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"
local shell = require "shell"
local files = require "files"
local child = require "cli_child"
local json = require "cjson"

local q = shell.quote

describe("bin/autopilot bulk and undo", function()
  local emu, dir, pool

  setup(function()
    emu = assert(emulator.start { devices = 80, seed = 41 })
    dir = files.tempdir()
    pool = tenant.with_user(emu)
  end)

  teardown(function()
    emu:stop()
    files.remove(dir)
  end)

  local function cli(args, o) return child.run(emu, dir, args, o) end
  local function writes() return tenant.count(emu:state { devices = false, log = false }.counters,
    "unassignUserFromDevice") end
  local function user_of(id)
    for _, d in ipairs(tenant.devices(emu)) do
      if d.id == id then return d.userPrincipalName end
    end
  end
  -- a CSV of the next n devices that still have a user (each test takes its own)
  local function csv_of(n, name)
    local ids = {}
    while #ids < n do
      local d = assert(table.remove(pool, 1), "the emulator has too few devices with a user")
      ids[#ids + 1] = d
    end
    local lines = { "id" }
    for i, d in ipairs(ids) do lines[i + 1] = d.id end
    local path = dir .. "/" .. name .. ".csv"
    files.write(path, table.concat(lines, "\n") .. "\n")
    return path, ids
  end

  it("prints one line per device on a dry run, sending no write", function()
    local csv, ds = csv_of(2, "dry")
    files.write(csv, files.slurp(csv) .. "00000000-0000-4000-8000-000000000000\n")
    local before = writes()
    local out, err, status = cli("bulk --dry-run " .. q(csv))
    assert.equal(1, status, err)   -- the unknown id is not "all done"
    for _, d in ipairs(ds) do
      -- whose assignment would go, in the report's own words (report:lines())
      assert.matches("would_unassign " .. d.id .. " (" .. d.serialNumber .. ") user " .. d.userPrincipalName, out,
        1, true)
    end
    assert.matches("unknown 00000000-0000-4000-8000-000000000000: ", out, 1, true)
    assert.matches("(dry run): 2 to unassign, 1 skipped, of 3 targets", out, 1, true)
    assert.equal(before, writes())
  end)

  it("asks above --confirm-above devices: refused without a terminal (exit 2, nothing sent)", function()
    local csv, ds = csv_of(3, "ask")
    local before = writes()
    local _, err, status = cli("bulk --confirm-above 2 " .. q(csv))
    assert.equal(2, status)
    assert.matches("3 devices would change (more than --confirm-above 2); not a terminal", err, 1, true)
    assert.matches("add --yes", err, 1, true)
    assert.equal(before, writes())
    local out
    out, _, status = cli("bulk --confirm-above 2 " .. q(csv), { tty = "n" })
    assert.equal(2, status, out)
    assert.matches("Unassign the users of 3 devices? [y/N]", out, 1, true)
    assert.equal(before, writes())
    for _, d in ipairs(ds) do assert.equal(d.userPrincipalName, user_of(d.id)) end
    out, _, status = cli("bulk --confirm-above 2 " .. q(csv), { tty = "y" })
    assert.equal(0, status, out)
    assert.matches("3 unassigned", out, 1, true)
    assert.equal(before + 3, writes())
    for _, d in ipairs(ds) do assert.equal("", user_of(d.id)) end
  end)

  it("asks above 10 devices by default, and not with --yes or at or below the threshold", function()
    local csv = csv_of(11, "eleven")
    local before = writes()
    local _, err, status = cli("bulk " .. q(csv))
    assert.equal(2, status)
    assert.matches("11 devices would change (more than --confirm-above 10)", err, 1, true)
    assert.equal(before, writes())
    local out
    out, err, status = cli("bulk --yes " .. q(csv))
    assert.equal(0, status, out .. err)
    assert.equal(before + 11, writes())
    csv = csv_of(2, "two")
    out, err, status = cli("bulk --confirm-above 2 " .. q(csv))
    assert.equal(0, status, out .. err)
    assert.equal(before + 13, writes())
  end)

  it("prints each device's result as a JSON line with --json, the summary on stderr, and a JSONL report",
    function()
    local csv, ds = csv_of(2, "json")
    local report = dir .. "/r.jsonl"
    local out, err, status = cli("bulk --json --yes --report " .. q(report) .. " " .. q(csv))
    assert.equal(0, status, err)
    local got = {}
    for l in out:gmatch("[^\n]+") do
      local r = json.decode(l)
      got[r.id] = r.outcome
    end
    assert.same({ [ds[1].id] = "unassigned", [ds[2].id] = "unassigned" }, got)
    assert.matches("2 unassigned", err, 1, true)
    assert.matches("report: " .. report, err, 1, true)
    local n = 0
    for l in files.slurp(report):gmatch("[^\n]+") do
      assert.is_table(json.decode(l))
      n = n + 1
    end
    assert.is_true(n >= 2)
  end)

  it("traces the run's writes with -v, each with the request-id the service logged", function()
    local csv, ds = csv_of(2, "trace")
    local out, err, status = cli("-v bulk --yes " .. q(csv))
    assert.equal(0, status, out .. err)
    local log = emu:state { devices = false, log = 10 }.log
    local seen = 0
    for _, e in ipairs(log) do
      if e.endpoint == "unassignUserFromDevice" then
        local id = e.path:match("windowsAutopilotDeviceIdentities/([^/]+)/")
        if id == ds[1].id or id == ds[2].id then
          assert.matches("> POST " .. emu.url .. e.path .. " -> 204 request-id=" .. e["request-id"], err, 1, true)
          seen = seen + 1
        end
      end
    end
    assert.equal(2, seen)
    assert.not_matches(emu.client_secret, err, 1, true)
  end)

  it("needs --journal for undo (exit 2)", function()
    local _, err, status = cli("undo")
    assert.equal(2, status)
    assert.matches("undo needs --journal FILE", err, 1, true)
  end)

  it("undoes a bulk run from its journal, skipping a device whose user changed since", function()
    local csv, ds = csv_of(3, "undo")
    local journal = dir .. "/undo.jsonl"
    local out, err, status = cli("bulk --yes --journal " .. q(journal) .. " " .. q(csv))
    assert.equal(0, status, out .. err)
    local c = tenant.connect(emu)
    assert(c:assign_user(ds[3].id, "someone.else@contoso.com"))
    c:close()
    out, err, status = cli("undo --dry-run --journal " .. q(journal))
    assert.equal(0, status, out .. err)
    for _, d in ipairs({ ds[1], ds[2] }) do
      assert.matches("would_restore " .. d.id .. " (" .. d.serialNumber .. ") user " .. d.userPrincipalName, out,
        1, true)
    end
    assert.matches("skipped_changed " .. ds[3].id .. " (" .. ds[3].serialNumber .. ") user "
      .. ds[3].userPrincipalName, out, 1, true)
    assert.matches("now someone.else@contoso.com", out, 1, true)
    out, err, status = cli("undo --yes --journal " .. q(journal))
    assert.equal(0, status, out .. err)
    -- the progress line (plain: stderr is no terminal) counts what a restore does
    assert.matches("autopilot bulk: 3/3 done (100%), 2 restored,", err, 1, true)
    assert.is_nil(err:find("unassigned", 1, true), err)
    assert.equal(ds[1].userPrincipalName, user_of(ds[1].id))
    assert.equal(ds[2].userPrincipalName, user_of(ds[2].id))
    assert.equal("someone.else@contoso.com", user_of(ds[3].id))
  end)
end)
