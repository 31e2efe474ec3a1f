-- Audit and undo: an unassign run records whose assignment it removed (report, journal, dry-run lines), and
-- client:restore puts those users back through the same bulk machinery, skipping a device whose user changed
-- in between. Everything is checked through the emulator's own state.
local restore = require "autopilot.bulk.restore"
local cjson = require "cjson"
local files = require "files"
local tenant = require "tenant"

local RUN = { progress = false, concurrency = 4, limit = false }

local function opts(extra)
  local o = {}
  for k, v in pairs(RUN) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function by_id(emu)
  local t = {}
  for _, d in ipairs(tenant.devices(emu)) do t[d.id] = d end
  return t
end

local function requests(emu)
  return emu:state { devices = false, log = false }.requests
end

local function jsonl(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = cjson.decode(line) end
  return out
end

describe("bulk restore", function()
  local emu, client, dir

  tenant.each_test({ devices = 24, seed = 11 }, function(e, c, d) emu, client, dir = e, c, d end)

  -- the devices with a user, and their users as the emulator holds them before any run
  local function assigned()
    local list, users = {}, {}
    for _, d in ipairs(tenant.with_user(emu)) do
      list[#list + 1] = d.id
      users[d.id] = { upn = d.userPrincipalName, name = d.addressableUserName }
    end
    assert.is_true(#list >= 6, "the seed gives enough assigned devices")
    return list, users
  end

  it("records each device's previous user in results, journal, CSV and JSONL reports", function()
    local list, users = assigned()
    local bare = tenant.find_device(emu, function(d) return d.userPrincipalName == "" end)
    list[#list + 1] = bare.id
    local journal = dir .. "/run.jsonl"
    local report = assert(client:unassign_users(list, opts { journal = journal }))
    assert.equal(#list - 1, report.succeeded)
    for _, r in ipairs(report.results) do
      if r.id == bare.id then
        assert.equal("already_unassigned", r.outcome)
        assert.is_nil(r.previous_upn)
      else
        assert.equal("unassigned", r.outcome)
        assert.equal(users[r.id].upn, r.previous_upn)
        assert.equal(users[r.id].name, r.previous_user_name)
      end
    end
    local lines = 0
    for _, l in ipairs(jsonl(journal)) do
      if l.id then
        lines = lines + 1
        assert.equal(users[l.id].upn, l.previous_upn)
        assert.equal(users[l.id].name, l.previous_user_name)
      end
    end
    assert.equal(#list - 1, lines)
    assert(report:write_jsonl(dir .. "/r.jsonl"))
    for _, l in ipairs(jsonl(dir .. "/r.jsonl")) do
      assert.equal(users[l.id] and users[l.id].upn or nil, l.previous_upn)
    end
    assert(report:write_csv(dir .. "/r.csv"))
    local csv = files.slurp(dir .. "/r.csv")
    assert.matches(",previous_upn,previous_user_name\r\n", csv, 1, true)
    assert.matches(users[list[1]].upn, csv, 1, true)
  end)

  it("shows whose assignment goes in a dry run's per-device lines, and sends no write", function()
    local list, users = assigned()
    local report = assert(client:unassign_users({ list[1], list[2] }, opts { dry_run = true }))
    local lines = report:lines()
    assert.equal(2, #lines)
    for i = 1, 2 do
      local u = users[list[i]]
      assert.equal(string.format("would_unassign %s (%s) user %s (%s)", list[i], by_id(emu)[list[i]].serialNumber,
        u.upn, u.name), lines[i])
    end
    assert.equal(0, tenant.count(emu:state { log = false }.counters, "unassignUserFromDevice"))
  end)

  it("puts every removed user back from the journal, skipping a device assigned to someone else since", function()
    local list, users = assigned()
    local journal = dir .. "/run.jsonl"
    assert(client:unassign_users(list, opts { journal = journal }))
    for _, id in ipairs(list) do assert.equal("", by_id(emu)[id].userPrincipalName) end
    -- between the run and the undo, an administrator gives one device to someone else
    local changed = list[3]
    assert(client:assign_user(changed, "newcomer@contoso.com", "Newcomer"))

    local report = assert(client:restore(journal, opts { verify = { timeout = 5, interval = 0.2 } }))
    assert.equal("restore", report.action)
    assert.equal(#list - 1, report.succeeded)
    assert.equal(1, report.counts.skipped_changed)
    assert.equal(0, report.failed)
    local now = by_id(emu)
    for _, id in ipairs(list) do
      if id == changed then
        assert.equal("newcomer@contoso.com", now[id].userPrincipalName)
      else
        assert.equal(users[id].upn, now[id].userPrincipalName)
        assert.equal(users[id].name, now[id].addressableUserName)
      end
    end
    for _, r in ipairs(report.results) do
      if r.id == changed then
        assert.equal("skipped_changed", r.outcome)
        assert.equal(0, r.attempts)
        assert.matches("now newcomer@contoso.com, removed " .. users[changed].upn, r.message, 1, true)
      else
        assert.equal("restored", r.outcome)
        assert.equal(users[r.id].upn, r.restored_upn)
        assert.is_true(r.verified)
      end
    end
    -- the restores, and the administrator's own assignment
    assert.equal(#list - 1 + 1, tenant.count(emu:state { log = false }.counters, "assignUserToDevice"))
    assert.matches("autopilot restore: " .. (#list - 1) .. " restored, 0 failed, 1 skipped", tostring(report), 1, true)
  end)

  it("restores from a CSV report, a JSONL report, a report table and an array of records", function()
    local list, users = assigned()
    local function unassign(ids)
      local r = assert(client:unassign_users(ids, opts()))
      assert.equal(#ids, r.succeeded)
      return r
    end
    local r1 = unassign { list[1], list[2] }
    assert(r1:write_csv(dir .. "/r1.csv"))
    local r2 = unassign { list[3] }
    assert(r2:write_jsonl(dir .. "/r2.jsonl"))
    local r3 = unassign { list[4] }
    unassign { list[5] }
    local sources = {
      { dir .. "/r1.csv", { list[1], list[2] } },
      { dir .. "/r2.jsonl", { list[3] } },
      { r3, { list[4] } },
      { { { id = list[5], previous_upn = users[list[5]].upn, previous_user_name = users[list[5]].name } },
        { list[5] } },
    }
    for _, s in ipairs(sources) do
      local rep = assert(client:restore(s[1], opts()))
      assert.equal(#s[2], rep.succeeded)
      local now = by_id(emu)
      for _, id in ipairs(s[2]) do
        assert.equal(users[id].upn, now[id].userPrincipalName)
        assert.equal(users[id].name, now[id].addressableUserName)
      end
    end
  end)

  it("leaves out what the run did not change and skips records without a removed user", function()
    local list = assigned()
    local bare = tenant.find_device(emu, function(d) return d.userPrincipalName == "" end)
    -- force: the bare device gets a write too, but there was nobody to remove
    local report = assert(client:unassign_users({ list[1], bare.id, list[1] }, opts { force = true }))
    assert(report:write_csv(dir .. "/r.csv"))
    local rep = assert(client:restore(dir .. "/r.csv", opts()))
    assert.equal(2, rep.total) -- the duplicate was never unassigned: not part of the undo
    assert.equal(1, rep.succeeded)
    assert.equal(1, rep.counts.no_previous_user)
    assert.equal("", by_id(emu)[bare.id].userPrincipalName)
    -- a report whose first result has no device (an unknown serial) is still a report
    local by_serial = assert(client:unassign_users({ serials = { "NO-SUCH-SERIAL", by_id(emu)[list[2]].serialNumber } },
      opts()))
    assert(by_serial:write_jsonl(dir .. "/s.jsonl"))
    local again = assert(client:restore(dir .. "/s.jsonl", opts()))
    assert.equal(1, again.total)
    assert.equal(1, again.succeeded)
  end)

  it("is itself journaled and resumable, and has a dry run", function()
    local list, users = assigned()
    local journal = dir .. "/run.jsonl"
    assert(client:unassign_users({ list[1], list[2] }, opts { journal = journal }))
    local dry = assert(client:restore(journal, opts { dry_run = true }))
    assert.equal(2, dry.counts.would_restore)
    assert.equal(string.format("would_restore %s (%s) user %s (%s)", list[1], by_id(emu)[list[1]].serialNumber,
      users[list[1]].upn, users[list[1]].name), dry:lines()[1])
    assert.equal("autopilot restore (dry run): 2 to restore, 0 skipped, of 2 targets", tostring(dry))
    assert.equal("", by_id(emu)[list[1]].userPrincipalName)

    local undo = dir .. "/undo.jsonl"
    local first = assert(client:restore(journal, opts { journal = undo }))
    assert.equal(2, first.succeeded)
    local again = assert(client:restore(journal, opts { journal = undo }))
    assert.equal(2, again.counts.done_before)
    assert.equal(2, tenant.count(emu:state { log = false }.counters, "assignUserToDevice"))
    local header = jsonl(undo)[1]
    assert.equal("restore", header.run.action)
  end)

  it("returns an error value for a source that cannot be read or is neither journal nor report, sending nothing",
    function()
      assert(client:device(tenant.ids(emu, 1)[1])) -- the token first
      local before = requests(emu)
      files.write(dir .. "/targets.csv", "Device Serial Number\r\nSN1\r\n")
      files.write(dir .. "/other.jsonl", '{"hello":"world"}\n')
      files.write(dir .. "/empty.csv", "")
      files.write(dir .. "/badid.csv", "id,outcome,previous_upn\r\nnot-a-guid,unassigned,a@b.c\r\n")
      for _, path in ipairs { dir .. "/missing.jsonl", dir, dir .. "/targets.csv", dir .. "/other.jsonl",
                              dir .. "/empty.csv", dir .. "/badid.csv" } do
        local rep, err = client:restore(path, opts())
        assert.is_nil(rep, path)
        assert.equal("InvalidRestoreSource", err.code, path)
        assert.equal("input", err.kind)
      end
      assert.equal(before, requests(emu))
      assert.has_error(function() client:restore(42) end)
      assert.has_error(function() client:restore({ { id = "nope" } }) end)
      assert.has_error(function() client:restore({}, { force = true }) end, "restore: unknown option 'force'")
      assert.equal(before, requests(emu))
    end)

  it("restores in $batch requests and through the plan's listing of many ids alike", function()
    local plan = require "autopilot.bulk.plan"
    local list, users = assigned()
    assert(client:unassign_users(list, opts { journal = dir .. "/run.jsonl" }))
    local gets = tenant.count(emu:state { log = false }.counters, "get")
    local saved = plan.ID_GET_MAX
    plan.ID_GET_MAX = 2 -- more ids than this: one listing instead of a GET per id
    local ok, rep = pcall(client.restore, client, dir .. "/run.jsonl", opts { batch = true })
    plan.ID_GET_MAX = saved
    assert(ok, rep)
    assert.equal(#list, rep.succeeded)
    local counters = emu:state { log = false }.counters
    assert.is_true(tenant.count(counters, "batch") >= 1)
    assert.equal(gets, tenant.count(counters, "get")) -- the listing read them: no GET per device
    assert.is_true(tenant.count(counters, "list") >= 1)
    local now = by_id(emu)
    for _, id in ipairs(list) do assert.equal(users[id].upn, now[id].userPrincipalName) end
  end)

  it("reads a journal torn by a kill, and refuses a JSONL report with a broken line", function()
    local id = assigned()[1]
    local u = by_id(emu)[id]
    local journal = dir .. "/torn.jsonl"
    files.write(journal, '{"run":{"action":"unassign"}}\n' .. cjson.encode { id = id, outcome = "unassigned",
      previous_upn = u.userPrincipalName } .. '\n{"id":"' .. id .. '","outc')
    local items = assert(restore.items(journal))
    assert.equal(1, #items)
    assert.equal(u.userPrincipalName, items[1].restore.upn)
    files.write(dir .. "/broken.jsonl", cjson.encode { id = id, outcome = "unassigned" } .. "\n{oops\n")
    local none, err = restore.items(dir .. "/broken.jsonl")
    assert.is_nil(none)
    assert.equal("InvalidRestoreSource", err.code)
  end)
end)
