-- The plan of a bulk run and dry runs, against the real emulator on loopback.
local emulator = require "autopilot.emulator"
local files = require "files"
local tenant = require "tenant"

local UNKNOWN_ID = "00000000-1111-4222-8333-444444444444"

local connect = tenant.connect

local function tmpcsv(lines)
  local path = os.tmpname()
  files.write(path, table.concat(lines, "\r\n") .. "\r\n")
  return path
end

local function writes(emu)
  local st = emu:state { devices = false, log = false }
  local n = 0
  for _, c in pairs(st.writes) do n = n + c end
  return n, st
end

local function outcomes(report)
  local by = {}
  for _, r in ipairs(report.results) do by[r.outcome] = (by[r.outcome] or 0) + 1 end
  return by
end

describe("bulk plan", function()
  local emu, client, devices
  local with_user, without_user, dup_serial, unique_serial

  before_each(function()
    emu = assert(emulator.start { devices = 300, seed = 11 })
    client = connect(emu)
    devices = tenant.devices(emu)
    with_user, without_user = {}, {}
    local count = {}
    for _, d in ipairs(devices) do count[d.serialNumber] = (count[d.serialNumber] or 0) + 1 end
    for _, d in ipairs(devices) do
      if d.userPrincipalName ~= "" then with_user[#with_user + 1] = d else without_user[#without_user + 1] = d end
      if count[d.serialNumber] > 1 and not d.serialNumber:find("-", 1, true) then dup_serial = d.serialNumber end
      if count[d.serialNumber] == 1 and d.userPrincipalName ~= "" and not d.serialNumber:find("[-%s]") then
        unique_serial = unique_serial or d.serialNumber
      end
    end
    assert(dup_serial and unique_serial and #without_user > 2 and #with_user > 10, "the seed lacks a case")
  end)

  after_each(function()
    client:close()
    emu:stop()
  end)

  it("skips duplicates, unknown ids and devices without a user; dry run sends no write", function()
    local targets = { with_user[1].id, with_user[2].id, with_user[1].id, UNKNOWN_ID, without_user[1].id,
                      with_user[3] }
    local report = assert(client:unassign_users(targets, { dry_run = true, progress = false }))
    assert.is_true(report.dry_run)
    local o = outcomes(report)
    assert.are.same({ would_unassign = 3, duplicate = 1, unknown = 1, already_unassigned = 1 }, o)
    assert.are.equal("duplicate", report.results[3].outcome)
    assert.are.equal("unknown", report.results[4].outcome)
    assert.are.equal(UNKNOWN_ID, report.results[4].id)
    assert.are.equal(with_user[1].serialNumber, report.results[1].serial)
    local n, st = writes(emu)
    assert.are.equal(0, n)
    assert.is_nil(st.counters.unassignUserFromDevice)

    -- the same call for real writes exactly the planned devices
    report = assert(client:unassign_users(targets, { progress = false }))
    assert.are.equal(3, report.succeeded)
    assert.are.equal(0, report.failed)
    assert.are.equal(3, report.skipped)
    n, st = writes(emu)
    assert.are.equal(3, n)
    for i = 1, 3 do assert.are.equal(1, st.writes[with_user[i].id]) end
  end)

  it("writes devices without a user too with force", function()
    local report = assert(client:unassign_users({ without_user[1].id, without_user[2].id },
      { force = true, progress = false }))
    assert.are.equal(2, report.succeeded)
    assert.are.equal(2, (writes(emu)))
  end)

  it("resolves a CSV of serials: unknown, ambiguous (never guessed) and repeated rows", function()
    local path = tmpcsv { "Device Serial Number,Windows Product ID,Hardware Hash", unique_serial .. ",,AAAA",
                          "NO-SUCH-SERIAL,,", dup_serial .. ",,", unique_serial .. ",,", "ALSONOTHERE,," }
    local report = assert(client:unassign_users(path, { progress = false }))
    os.remove(path)
    local r = report.results
    assert.are.equal(5, #r)
    assert.are.equal("unassigned", r[1].outcome)
    assert.are.equal(unique_serial, r[1].serial)
    assert.are.equal("unknown", r[2].outcome)
    assert.are.equal("ambiguous", r[3].outcome)
    assert.is_true(#r[3].ids >= 2)
    assert.is_nil(r[3].id)
    assert.are.equal("duplicate", r[4].outcome)
    assert.are.equal("unknown", r[5].outcome)
    local n, st = writes(emu)
    assert.are.equal(1, n)
    for _, id in ipairs(r[3].ids) do assert.is_nil(st.writes[id]) end
  end)

  it("resolves many serials and ids with one listing, with the same decisions", function()
    local serials, ids = { "Device Serial Number", dup_serial }, {}
    local seen = {}
    for _, d in ipairs(with_user) do
      if not seen[d.serialNumber] then
        seen[d.serialNumber] = true
        serials[#serials + 1] = '"' .. d.serialNumber .. '"'
      end
    end
    serials[#serials + 1] = "NOT-THERE"
    for _, d in ipairs(devices) do ids[#ids + 1] = d.id end
    ids[#ids + 1] = UNKNOWN_ID
    local before = emu:state({ devices = false, log = false }).counters
    local path = tmpcsv(serials)
    local report = assert(client:unassign_users(path, { dry_run = true, progress = false }))
    os.remove(path)
    local o = outcomes(report)
    assert.are.equal(1, o.unknown)
    assert.is_true(o.ambiguous >= 1)
    assert.is_true(o.would_unassign > 10)
    -- 300 ids: more than the per-id GETs allowed, so one listing
    local report2 = assert(client:unassign_users(ids, { dry_run = true, progress = false }))
    local o2 = outcomes(report2)
    assert.are.same({ would_unassign = #with_user, already_unassigned = #without_user, unknown = 1 }, o2)
    local after = emu:state({ devices = false, log = false }).counters
    local gets = (after.get and after.get["200"] or 0) - (before.get and before.get["200"] or 0)
    assert.are.equal(0, gets)
    assert.is_true((after.list["200"] or 0) > (before.list and before.list["200"] or 0))
    assert.are.equal(0, (writes(emu)))
  end)

  it("selects devices with a query table", function()
    local kiosk = 0
    for _, d in ipairs(with_user) do if d.groupTag == "Kiosk" then kiosk = kiosk + 1 end end
    local report = assert(client:unassign_users({ group_tag = "Kiosk" }, { progress = false }))
    assert.are.equal(kiosk, report.succeeded)
    assert.are.equal(kiosk, (writes(emu)))
  end)

  it("rejects bad input before sending anything", function()
    local requests = emu:state({ devices = false, log = false }).requests
    local bad = {
      { { "not-a-guid" } }, { { with_user[1].id, "../x" } }, { 5 }, { { { serialNumber = "X" } } },
      { { with_user[1].id }, { concurrency = 0 } }, { { with_user[1].id }, { bogus = 1 } },
      { { with_user[1].id }, { via_profile = true } }, -- v1.0 client: the profile path is beta only
    }
    for _, c in ipairs(bad) do
      assert.has_error(function() client:unassign_users(c[1], c[2]) end)
    end
    local report, err = client:unassign_users("/nonexistent/targets.csv", { progress = false })
    assert.is_nil(report)
    assert.are.equal("InvalidTargets", err.code)
    assert.are.equal(requests, emu:state({ devices = false, log = false }).requests)
  end)

  it("unassigns through beta's deploymentProfile path with via_profile", function()
    local beta = connect(emu, { api_version = "beta" })
    local report = assert(beta:unassign_users({ with_user[1].id }, { via_profile = true, progress = false }))
    assert.are.equal(1, report.succeeded)
    local st = emu:state { devices = false, log = 5 }
    local found = false
    local want = "/deploymentProfile/assignedDevices/" .. with_user[1].id .. "/unassignUserFromDevice"
    for _, e in ipairs(st.log) do
      if e.path:find(want, 1, true) then found = true end
    end
    assert.is_true(found)
    beta:close()
  end)

  it("stops at an authentication failure: in-flight writes end, the rest are not attempted", function()
    local wrong = connect(emu, { client_secret = "Wr0ng-S3cret-Value~42" })
    local targets = {}
    for i = 1, 40 do targets[i] = with_user[i] end
    local report = assert(wrong:unassign_users(targets, { concurrency = 4, progress = false }))
    assert.is_not_nil(report.error)
    assert.are.equal("invalid_client", report.error.code)
    assert.are.equal(40, report.failed)
    assert.is_true((report.counts.not_attempted or 0) >= 40 - 4)
    assert.are.equal(0, (writes(emu)))
    assert.is_nil(tostring(report):find("Wr0ng-S3cret", 1, true))
    assert.is_nil(report:summary():find("Wr0ng-S3cret", 1, true))
    for _, write in ipairs { "write_csv", "write_jsonl" } do
      local path = os.tmpname()
      assert(report[write](report, path))
      local text = files.slurp(path)
      os.remove(path)
      assert.is_nil(text:find("Wr0ng-S3cret", 1, true))
      assert.matches("not_attempted", text)
    end
    wrong:close()
  end)
end)

-- A serial number that two devices share up to surrounding white space ("SN1" and "SN1 ") was ambiguous when
-- the plan listed the tenant (more than 10 serials) but picked one device when it looked the serial up
-- (10 or fewer): the same CSV row could unassign a guessed device.
describe("bulk plan: serials that differ only in surrounding white space", function()
  local emu, client, dir

  setup(function()
    dir = files.tempdir()
    files.write(dir .. "/devices.json", '[{"serialNumber":"SN1","userPrincipalName":"a@contoso.com"},'
      .. '{"serialNumber":"SN1 ","userPrincipalName":"b@contoso.com"},'
      .. '{"serialNumber":"sn1","userPrincipalName":"c@contoso.com"},'
      .. '{"serialNumber":"SN2","userPrincipalName":"d@contoso.com"}]')
    emu = assert(emulator.start { devices_file = dir .. "/devices.json", seed = 1 })
    client = tenant.connect(emu)
  end)

  teardown(function()
    client:close()
    emu:stop()
    files.remove(dir)
  end)

  it("are ambiguous whether the plan looks them up or lists the tenant", function()
    local many = { "SN1" }
    for i = 1, 10 do many[#many + 1] = "NOSUCH" .. i end
    for _, serials in ipairs { { "SN1" }, many } do
      local report = assert(client:unassign_users({ serials = serials }, { dry_run = true, progress = false }))
      local r = report.results[1]
      assert.equal("ambiguous", r.outcome, #serials .. " serials")
      assert.equal(2, #r.ids)
    end
    local report = assert(client:unassign_users({ serials = { "SN2" } }, { dry_run = true, progress = false }))
    assert.equal("would_unassign", report.results[1].outcome)
    assert.equal(2, #assert(client:list_devices { serial = "SN1" }))
  end)
end)
