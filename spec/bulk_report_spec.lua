-- Unit specs of the report, journal file format and Retry-After parsing of the bulk runner (progress:
-- bulk_progress_spec).
local report_mod = require "autopilot.bulk.report"
local journal = require "autopilot.bulk.journal"
local cjson = require "cjson"
local files = require "files"

local ID1 = "0aaad64e-d21e-4983-83ab-c7ebcebdc600"
local ID2 = "40fec290-ff83-4a1b-8cd0-1ba56a484bc0"

local read = files.slurp

local function sample()
  return report_mod.new({
    { id = ID1, serial = "SN1", outcome = "unassigned", status = 204, request_id = "r1", attempts = 1,
      verified = true, previous_upn = "alice@contoso.com", previous_user_name = "Alice, A." },
    { id = ID2, serial = "=cmd|' /C calc'!A0", outcome = "failed", status = 503, code = "ServiceUnavailable",
      message = 'busy, "really"', attempts = 7 },
    { serial = "NOPE", outcome = "unknown", message = "no device with this serial number", attempts = 0 },
    { serial = "DUP", outcome = "ambiguous", ids = { ID1, ID2 }, attempts = 0 },
    { id = ID1, outcome = "already_unassigned", attempts = 0 },
  }, { elapsed = 2, requests = 8, retries = 6, throttled = 1, journal = "run.jsonl" })
end

describe("bulk report", function()
  it("counts succeeded, failed and skipped, and by outcome", function()
    local r = sample()
    assert.are.equal(1, r.succeeded)
    assert.are.equal(1, r.failed)
    assert.are.equal(3, r.skipped)
    assert.are.equal(5, r.total)
    assert.are.equal(1, r.verified)
    assert.are.equal(1, r.counts.ambiguous)
  end)

  it("prints one summary line and a few lines for humans", function()
    local r = sample()
    local line = tostring(r)
    assert.is_nil(line:find("\n"))
    assert.matches("1 unassigned, 1 failed, 3 skipped, of 5", line, 1, true)
    local s = r:summary()
    assert.matches("requests: 8 sent, 6 retried, 1 throttled", s, 1, true)
    assert.matches("failed " .. ID2, s, 1, true)
    assert.matches("unknown - (NOPE)", s, 1, true)
    assert.matches("journal: run.jsonl", s, 1, true)
  end)

  it("writes CSV with quoting and a guard against spreadsheet formulas", function()
    local path = os.tmpname()
    assert(sample():write_csv(path))
    local text = read(path)
    os.remove(path)
    local lines = {}
    for l in text:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = l end
    assert.are.equal("id,serial,outcome,status,code,message,request_id,attempts,verified,previous_upn,"
      .. "previous_user_name", lines[1])
    assert.are.equal(ID1 .. ",SN1,unassigned,204,,,r1,1,true,alice@contoso.com,\"Alice, A.\"", lines[2])
    assert.are.equal(ID2 .. ",'=cmd|' /C calc'!A0,failed,503,ServiceUnavailable,\"busy, \"\"really\"\"\",,7,,,",
      lines[3])
    assert.are.equal(6, #lines)
  end)

  it("writes JSON Lines, one object per result, with the ids of an ambiguous serial", function()
    local path = os.tmpname()
    assert(sample():write_jsonl(path))
    local n, objs = 0, {}
    for l in io.lines(path) do
      n = n + 1
      objs[n] = cjson.decode(l)
    end
    os.remove(path)
    assert.are.equal(5, n)
    assert.are.equal("unassigned", objs[1].outcome)
    assert.are.equal("alice@contoso.com", objs[1].previous_upn)
    assert.are.equal("Alice, A.", objs[1].previous_user_name)
    assert.are.same({ ID1, ID2 }, objs[4].ids)
  end)

  it("returns an error value for an unwritable path", function()
    local ok, err = sample():write_csv("/nonexistent/dir/r.csv")
    assert.is_nil(ok)
    assert.are.equal("ReportUnwritable", err.code)
  end)

  it("describes a dry run", function()
    local r = report_mod.new({ { id = ID1, outcome = "would_unassign" }, { id = ID2, outcome = "duplicate" } },
      { dry_run = true })
    assert.matches("dry run%): 1 to unassign, 1 skipped, of 2", tostring(r))
  end)
end)

describe("bulk journal file", function()
  it("reads a missing journal as empty", function()
    local st = assert(journal.read("/nonexistent-dir-xyz/none.jsonl"))
    assert.are.same({}, st.done)
  end)

  it("writes a header and device lines, and reads back what is done, past a torn last line", function()
    local path = os.tmpname()
    os.remove(path)
    local j = assert(journal.open(path, { concurrency = 8 }))
    assert(j:write { id = ID1, serial = "SN1", outcome = "unassigned", status = 204, attempts = 1, request_id = "r" })
    assert(j:write { id = ID2, outcome = "failed", status = 503, code = "ServiceUnavailable", attempts = 7 })
    j:close()
    j:close() -- idempotent
    -- a kill in the middle of a line
    local f = assert(io.open(path, "ab"))
    f:write('{"id":"' .. ID2 .. '","outcome":"unass')
    f:close()
    local st = assert(journal.read(path))
    assert.are.equal(1, st.runs)
    assert.are.equal(2, st.lines)
    assert.are.equal(1, st.torn)
    assert.truthy(st.done[ID1])
    assert.is_nil(st.done[ID2])
    -- a resumed run starts on a new line, so its records stay readable
    j = assert(journal.open(path, { concurrency = 8 }))
    assert(j:write { id = ID2, outcome = "unassigned", status = 204, attempts = 1 })
    j:close()
    st = assert(journal.read(path))
    assert.are.equal(2, st.runs)
    assert.truthy(st.done[ID2])
    local first = cjson.decode(io.lines(path)())
    assert.are.same({ concurrency = 8 }, first.run)
    os.remove(path)
  end)

  it("reports an unwritable journal as a value", function()
    local j, err = journal.open("/nonexistent-dir-xyz/j.jsonl", {})
    assert.is_nil(j)
    assert.are.equal("JournalUnwritable", err.code)
  end)
end)
