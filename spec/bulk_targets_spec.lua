-- Unit specs of autopilot.bulk.targets and autopilot.bulk.options: pure functions, no network.
local targets = require "autopilot.bulk.targets"
local options = require "autopilot.bulk.options"
local files = require "files"

local ID1 = "0aaad64e-d21e-4983-83ab-c7ebcebdc600"
local ID2 = "40fec290-ff83-4a1b-8cd0-1ba56a484bc0"

local function tmpfile(text)
  local path = os.tmpname()
  files.write(path, text)
  return path
end

describe("bulk targets: CSV parsing", function()
  it("splits quoted cells with commas, quotes and line breaks", function()
    local recs = targets.parse_csv('a,"b,c","say ""hi"""\r\n"multi\nline",x\n')
    assert.are.equal(2, #recs)
    assert.are.same({ "a", "b,c", 'say "hi"' }, recs[1].cells)
    assert.are.same({ "multi\nline", "x" }, recs[2].cells)
    assert.are.equal(1, recs[1].line)
    assert.are.equal(2, recs[2].line)
  end)

  it("strips a UTF-8 BOM, skips blank lines and keeps a last line without newline", function()
    local recs = targets.parse_csv("\239\187\191one\n\n   \ntwo")
    assert.are.equal(2, #recs)
    assert.are.same({ "one" }, recs[1].cells)
    assert.are.same({ "two" }, recs[2].cells)
    assert.are.equal(4, recs[2].line)
  end)

  it("reads Intune's Autopilot CSV (Device Serial Number header) by its serial column", function()
    local text = "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n" ..
      "PF1ABCDE,,T0FgAgEAHAAAAAoA,Kiosk,\r\n" ..
      "\"VMware-56 4d 51 82 9a 05 fe b6-01 de 74 fe 6a 4b 4e c6\",,AAAA,,\r\n"
    local items = assert(targets.from_csv_text(text, "export.csv"))
    assert.are.equal(2, #items)
    assert.are.same({ kind = "serial", serial = "PF1ABCDE", line = 2 }, items[1])
    assert.are.equal("VMware-56 4d 51 82 9a 05 fe b6-01 de 74 fe 6a 4b 4e c6", items[2].serial)
  end)

  it("prefers an id column and keeps the serial beside it", function()
    local items = assert(targets.from_csv_text("serialNumber,id\nSN1," .. ID1 .. "\nSN2,\n"))
    assert.are.same({ kind = "id", id = ID1, serial = "SN1", line = 2 }, items[1])
    assert.are.same({ kind = "serial", serial = "SN2", line = 3 }, items[2])
  end)

  it("reads a headerless file: GUIDs as ids, anything else as serials, cells trimmed", function()
    local items = assert(targets.from_csv_text("  " .. ID1 .. " \nDefault string\n5CG1234ABC,extra\n"))
    assert.are.same({ "id", "serial", "serial" }, { items[1].kind, items[2].kind, items[3].kind })
    assert.are.equal(ID1, items[1].id)
    assert.are.equal("Default string", items[2].serial)
    assert.are.equal("5CG1234ABC", items[3].serial)
  end)

  it("rejects a non-GUID in an id column, naming the line", function()
    local items, err = targets.from_csv_text("id\n" .. ID1 .. "\n../etc/passwd\n", "x.csv")
    assert.is_nil(items)
    assert.are.equal("InvalidTargets", err.code)
    assert.matches("x.csv line 3", err.message, 1, true)
  end)

  it("rejects an empty file and a header without rows", function()
    for _, text in ipairs { "", "\r\n\r\n", "Device Serial Number\r\n" } do
      local items, err = targets.from_csv_text(text)
      assert.is_nil(items)
      assert.are.equal("InvalidTargets", err.code)
    end
  end)

  it("reports an unreadable file as a value", function()
    local items, err = targets.from_csv_file("/nonexistent/dir/file.csv")
    assert.is_nil(items)
    assert.are.equal("InvalidTargets", err.code)
  end)
end)

describe("bulk targets: normalize", function()
  it("takes an array of ids and device tables", function()
    local norm = targets.normalize { ID1, { id = ID2, serialNumber = "X" } }
    assert.are.equal(2, #norm.items)
    assert.are.equal("id", norm.items[1].kind)
    assert.are.equal("device", norm.items[2].kind)
  end)

  it("takes a query table, a CSV path, { csv = } and { serials = }", function()
    assert.are.same({ group_tag = "Kiosk" }, targets.normalize({ group_tag = "Kiosk" }).query)
    local path = tmpfile("Device Serial Number\nA1\nB2\n")
    assert.are.equal(2, #targets.normalize(path).items)
    assert.are.equal(2, #targets.normalize({ csv = path }).items)
    os.remove(path)
    local norm = targets.normalize { serials = { " A1 ", "B 2" } }
    assert.are.same({ "A1", "B 2" }, { norm.items[1].serial, norm.items[2].serial })
  end)

  it("treats a single GUID string as one id and an empty array as nothing", function()
    assert.are.equal(ID1, targets.normalize(ID1).items[1].id)
    assert.are.equal(0, #targets.normalize({}).items)
  end)

  it("raises on programmer errors, naming the element", function()
    local cases = {
      { 42, "targets must be" },
      { { ID1, "not-a-guid" }, "targets[2]" },
      { { ID1, 7 }, "targets[2]" },
      { { { serialNumber = "X" } }, "targets[1]: a device table needs its id" },
      { { ID1, group_tag = "x" }, "cannot also have the key 'group_tag'" },
      { { csv = 5 }, "targets.csv must be a path" },
      { { csv = "a.csv", serials = {} }, "takes no other keys" },
      { { serials = { "ok", "" } }, "targets.serials[2]" },
      { { serials = { "bad\r\nline" } }, "targets.serials[1]" },
      { { ID1 .. "\n" }, "targets[1]" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(targets.normalize, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)
end)

describe("bulk options", function()
  it("fills the defaults: Intune's per-app limit, concurrency 8, quiet when a callback is given", function()
    local o = options.check(nil)
    assert.are.equal(8, o.concurrency)
    assert.are.same({ writes = 100, seconds = 20 }, o.limit)
    assert.is_false(o.batch)
    assert.is_false(o.verify)
    assert.are.equal("auto", o.progress)
    assert.is_false(options.check({ on_progress = function() end }).progress)
    assert.are.same({ timeout = 60, interval = 2 }, options.check({ verify = true }).verify)
    assert.are.same({ timeout = 5, interval = 2 }, options.check({ verify = { timeout = 5 } }).verify)
    assert.is_false(options.check({ limit = false }).limit)
  end)

  it("raises on unknown keys and wrong types, naming the key", function()
    local cases = {
      { { concurency = 8 }, "unknown option 'concurency'" },
      { { concurrency = 0 }, "'concurrency'" },
      { { concurrency = 2.5 }, "'concurrency'" },
      { { limit = true }, "'limit'" },
      { { limit = { writes = 100 } }, "'limit.seconds'" },
      { { limit = { writes = 0, seconds = 20 } }, "'limit.writes'" },
      { { limit = { writes = 10, seconds = 20, burst = 1 } }, "'limit.burst'" },
      { { batch = "yes" }, "'batch'" },
      { { journal = 5 }, "'journal'" },
      { { journal = "" }, "'journal'" },
      { { dry_run = 1 }, "'dry_run'" },
      { { force = "true" }, "'force'" },
      { { verify = "yes" }, "'verify'" },
      { { verify = { timeout = -1 } }, "'verify.timeout'" },
      { { verify = { every = 1 } }, "'verify.every'" },
      { { on_progress = true }, "'on_progress'" },
      { { progress = "fancy" }, "'progress'" },
      { { via_profile = 1 }, "'via_profile'" },
      { "opts", "options must be a table" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(options.check, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)
end)
