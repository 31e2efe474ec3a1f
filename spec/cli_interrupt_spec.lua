-- bin/autopilot bulk stopped by SIGINT or SIGTERM: a real child process against an emulator whose throttle
-- lets 5 writes through and then answers 429 for the rest of a long window, so the run is bound to be
-- waiting when the signal comes. It must stop sending, print the summary, write the report with the rest
-- `not_attempted`, exit 130 / 143, leave a valid journal, and a rerun with the same journal (the throttle
-- lifted) must write every device exactly once. A second signal ends the process at once.
local emulator = require "autopilot.emulator"
local journal_mod = require "autopilot.bulk.journal"
local child = require "cli_child"
local files = require "files"
local paths = require "paths"
local shell = require "shell"
local tenant = require "tenant"
local cjson = require "cjson"

local q = shell.quote
local DEVICES = 16
local THROTTLE = { app_writes = 5, window = 300 }

local function sleep() os.execute("sleep 0.05") end

-- polls until `ready()` (no time limit decides the result: the give-up only ends a broken run's wait)
local function wait_for(ready, what, detail)
  for _ = 1, 2400 do
    if ready() then return end
    sleep()
  end
  error("gave up waiting for " .. what .. (detail and (": " .. detail()) or ""))
end

describe("bin/autopilot bulk interrupted", function()
  local emu, dir, csv, ids

  before_each(function()
    emu = assert(emulator.start { devices = 80, seed = 23, throttle = THROTTLE })
    dir = files.tempdir()
    ids = {}
    local lines = { "id" }
    for _, d in ipairs(tenant.with_user(emu)) do
      if #ids == DEVICES then break end
      ids[#ids + 1] = d.id
      lines[#lines + 1] = d.id
    end
    assert.equal(DEVICES, #ids)
    csv = dir .. "/targets.csv"
    files.write(csv, table.concat(lines, "\n") .. "\n")
  end)

  after_each(function()
    emu:stop()
    files.remove(dir)
  end)

  local function args(journal, report)
    return "bulk --yes --journal " .. q(journal) .. " --report " .. q(report) .. " " .. q(csv)
  end

  -- starts the CLI in the background; returns its pid and a function giving its exit status once it ended
  local function start(argv)
    local cmd = "env -u AUTOPILOT_ACCESS_TOKEN -u AUTOPILOT_GRAPH_URL -u AUTOPILOT_LOGIN_URL "
      .. "AUTOPILOT_TOKEN_CACHE=" .. q(dir .. "/tokens.json") .. " " .. paths.env() .. " " .. child.app_env(emu)
      .. " TERM=dumb lua5.4 bin/autopilot --graph-url " .. q(emu.url) .. " --login-url " .. q(emu.url) .. " "
      .. argv .. " >" .. q(dir .. "/out") .. " 2>" .. q(dir .. "/err") .. " </dev/null"
    local wrapper = "(" .. cmd .. " & echo $! >" .. q(dir .. "/pid") .. "; wait $!; echo $? >"
      .. q(dir .. "/status") .. ") >/dev/null 2>&1 &"
    os.remove(dir .. "/pid")
    os.remove(dir .. "/status")
    assert(os.execute(wrapper))
    wait_for(function() return files.text(dir .. "/pid"):find("%d") end, "the child's pid")
    local pid = assert(tonumber(files.slurp(dir .. "/pid"):match("%d+")))
    return pid, function()
      wait_for(function() return files.text(dir .. "/status"):find("%d") end, "the child to end", function()
        return files.text(dir .. "/out") .. files.text(dir .. "/err") .. files.text("/proc/" .. pid .. "/status")
      end)
      return tonumber(files.slurp(dir .. "/status"):match("%d+"))
    end
  end

  local function report_rows(path)
    local f = assert(io.open(path, "rb"))
    local header = f:read("l")
    local cols = {}
    for name in header:gsub("\r$", ""):gmatch("[^,]+") do cols[#cols + 1] = name end
    local rows = {}
    for line in f:lines() do
      local row, i = {}, 0
      for cell in (line:gsub("\r$", "") .. ","):gmatch("([^,]*),") do
        i = i + 1
        row[cols[i] or i] = cell
      end
      rows[#rows + 1] = row
    end
    f:close()
    return rows
  end

  local function valid_journal(path)
    for line in io.lines(path) do assert.is_table(cjson.decode(line), line) end
    local st = assert(journal_mod.read(path))
    assert.equal(0, st.torn)
    return st
  end

  local function stopped_gracefully(signal, status)
    local journal, report = dir .. "/run.jsonl", dir .. "/report.csv"
    local pid, ended = start(args(journal, report))
    wait_for(function() return files.journal_devices(journal) >= 1 end, "a journaled write")
    os.execute("kill -" .. signal .. " " .. pid)
    assert.equal(status, ended())
    local out, err = files.slurp(dir .. "/out"), files.slurp(dir .. "/err")
    assert.matches("autopilot bulk: %d+ unassigned, %d+ failed, 0 skipped, of " .. DEVICES, out)
    assert.matches("; interrupted (SIG" .. signal .. ")", out, 1, true)
    assert.matches("report: " .. report, out, 1, true)
    assert.matches("autopilot: SIG" .. signal .. ": no new writes; finishing those in flight", err, 1, true)
    assert.matches("autopilot: interrupted by SIG" .. signal .. "; %d+ devices not attempted", err)
    -- the progress lines and notices each end their line: the summary starts one
    assert.not_matches("[^\n]autopilot bulk:", out .. err)

    local st = valid_journal(journal)
    local done = 0
    for _ in pairs(st.done) do done = done + 1 end
    assert.is_true(done >= 1 and done <= THROTTLE.app_writes, "journaled " .. done)
    local rows, not_attempted = report_rows(report), 0
    assert.equal(DEVICES, #rows)
    for _, r in ipairs(rows) do
      assert.is_true(r.outcome == "unassigned" or r.outcome == "not_attempted" or r.outcome == "failed", r.outcome)
      if r.outcome == "unassigned" then assert.is_truthy(st.done[r.id:lower()] or st.done[r.id], r.id) end
      if r.outcome == "not_attempted" then
        not_attempted = not_attempted + 1
        assert.equal("0", r.attempts)
      end
    end
    assert.is_true(not_attempted >= DEVICES - 8 - done, "not attempted " .. not_attempted) -- 8 in flight at most

    -- the rerun, throttle lifted, finishes every device exactly once
    emu:configure { throttle = false }
    local out2, err2, status2 = child.run(emu, dir, args(journal, dir .. "/report2.csv"))
    assert.equal(0, status2, out2 .. err2)
    assert.matches(done .. " skipped, of " .. DEVICES, out2, 1, true)
    local writes = emu:state { devices = false, log = false }.writes
    for _, id in ipairs(ids) do assert.equal(1, writes[id], id) end
    valid_journal(journal)
  end

  it("stops on SIGINT: summary, report, exit 130, and the rerun finishes the job", function()
    stopped_gracefully("INT", 130)
  end)

  it("stops on SIGTERM: summary, report, exit 143, and the rerun finishes the job", function()
    stopped_gracefully("TERM", 143)
  end)

  it("stops at once on a second signal while the first waits for a write in flight; the journal stays valid",
    function()
      emu:configure { throttle = false }
      -- serial numbers: the plan lists by serial, so only the write names a device, and the last device's
      -- write is the one that stalls (nothing answered for two minutes; the client's stall_timeout is 30 s)
      local seen, serials, last = {}, { "Device Serial Number" }, nil
      for _, d in ipairs(tenant.devices(emu)) do seen[d.serialNumber] = (seen[d.serialNumber] or 0) + 1 end
      for _, d in ipairs(tenant.with_user(emu)) do
        if #serials - 1 < DEVICES and seen[d.serialNumber] == 1 and d.serialNumber:find("^%w+$") then
          serials[#serials + 1] = d.serialNumber
          last = d
        end
      end
      assert.equal(DEVICES, #serials - 1)
      files.write(csv, table.concat(serials, "\n") .. "\n")
      emu:configure { faults = { targets = { [last.id] = { "stall" } }, stall_seconds = 120 } }
      local journal, report = dir .. "/run.jsonl", dir .. "/report.csv"
      local pid, ended = start("bulk --yes --concurrency 16 --journal " .. q(journal) .. " --report " .. q(report)
        .. " " .. q(csv))
      wait_for(function() return files.journal_devices(journal) >= DEVICES - 1 end, "every write but the stalled one")
      os.execute("kill -INT " .. pid)
      wait_for(function() return files.text(dir .. "/err"):find("SIGINT: no new writes", 1, true) end, "the notice")
      os.execute("kill -INT " .. pid)
      assert.equal(130, ended()) -- 128 + SIGINT: the signal's default action ended it
      assert.equal("", files.text(dir .. "/out")) -- no summary: it did not wait for the stalled write
      assert.is_nil(io.open(report, "rb"))
      local st = valid_journal(journal)
      assert.equal(DEVICES - 1, st.lines)
      assert.is_nil(st.done[last.id])

      -- the stalled write never ran: the rerun writes that device, once
      local out2, err2, status2 = child.run(emu, dir, "bulk --yes --journal " .. q(journal) .. " " .. q(csv))
      assert.equal(0, status2, out2 .. err2)
      local writes = emu:state { devices = false, log = false }.writes
      assert.equal(1, writes[last.id])
      assert.matches("1 unassigned", out2, 1, true)
    end)
end)
