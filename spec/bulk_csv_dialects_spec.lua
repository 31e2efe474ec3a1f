-- CSV dialects of target files: comma, semicolon (Excel in locales with a decimal comma) and tab separators
-- read from the header line, quoted cells, and serial numbers trimmed the same way in CSV cells, `serials`
-- targets and `serial` lookups, against the emulator.
local targets = require "autopilot.bulk.targets"
local serial = require "autopilot.serial"
local files = require "files"
local tenant = require "tenant"

local NBSP = "\194\160"

describe("CSV dialects", function()
  describe("the separator read from the header line", function()
    it("is the comma, semicolon or tab that occurs most outside quotes", function()
      assert.equal(",", targets.detect_separator("Device Serial Number,Windows Product ID,Hardware Hash\nA,B,C\n"))
      assert.equal(";", targets.detect_separator("Device Serial Number;Windows Product ID;Hardware Hash\r\nA;B,1;C\r\n"
        .. "D,E,F,G\r\n"))
      assert.equal("\t", targets.detect_separator("serial\tid\nA\tB\n"))
      -- separators inside a quoted header cell do not count; nor do those of later lines
      assert.equal(";", targets.detect_separator('"Serial, number";id\nA,B,C,D;x\n'))
      assert.equal(";", targets.detect_separator("\n\n  \nserial;id\nA,B,C\n"))
      assert.equal(",", targets.detect_separator("SN1\nSN2\n"))
      assert.equal(",", targets.detect_separator(""))
    end)

    it("splits records by it, quoted cells keeping separators and quotes", function()
      local recs, sep = targets.parse_csv('\239\187\191serial;note\r\n"A;1";"say ""hi"""\r\nB;x,y\r\n')
      assert.equal(";", sep)
      assert.same({ "serial", "note" }, recs[1].cells)
      assert.same({ "A;1", 'say "hi"' }, recs[2].cells)
      assert.same({ "B", "x,y" }, recs[3].cells)
      local tabbed = targets.parse_csv("serial\tnote\nC D\ta,b;c\n")
      assert.same({ "C D", "a,b;c" }, tabbed[2].cells)
    end)
  end)

  it("trims serial numbers of white space, no-break spaces and stray byte order marks, keeping inner spaces", function()
    assert.equal("SN 1", serial.trim(" \t" .. NBSP .. "SN 1" .. NBSP .. " \r"))
    assert.equal("SN1", serial.trim("\239\187\191SN1 "))
    assert.equal("", serial.trim(NBSP .. " "))
    assert.equal("SN1", serial.trim("SN1"))
  end)

  describe("against the emulator", function()
    local emu, client, dir

    tenant.each_test({ devices = 12, seed = 3 }, function(e, c, d) emu, client, dir = e, c, d end)

    local function serials(n)
      local out = {}
      for i, d in ipairs(tenant.devices(emu)) do
        if i > n then break end
        out[i] = d.serialNumber
      end
      return out
    end

    it("finds every device of Intune's export in comma, semicolon and tab dialects", function()
      local sn = serials(3)
      for name, sep in pairs { comma = ",", semicolon = ";", tab = "\t" } do
        local rows = { table.concat({ "Device Serial Number", "Windows Product ID", "Hardware Hash" }, sep) }
        for i, s in ipairs(sn) do
          -- padded as spreadsheets leave cells; one quoted with the separator in another cell
          rows[#rows + 1] = table.concat({ (i == 2 and NBSP or " ") .. s .. " ", '"x' .. sep .. 'y"', "HASH" }, sep)
        end
        local path = dir .. "/" .. name .. ".csv"
        files.write(path, table.concat(rows, "\r\n") .. "\r\n")
        local report = assert(client:unassign_users(path, { dry_run = true, progress = false, force = true }))
        assert.equal(3, report.total, name)
        assert.equal(3, report.counts.would_unassign, name)
        for i, r in ipairs(report.results) do assert.equal(sn[i], r.serial, name) end
      end
    end)

    it("finds a device by a serial typed with surrounding spaces, in lookups and serials targets alike", function()
      local sn = serials(1)[1]
      for _, typed in ipairs { " " .. sn .. " ", NBSP .. sn, sn .. "\t" } do
        local list = assert(client:list_devices { serial = typed })
        assert.equal(1, #list)
        assert.equal(sn, list[1].serialNumber)
        local report = assert(client:unassign_users({ serials = { typed } }, { dry_run = true, progress = false,
          force = true }))
        assert.equal(1, report.counts.would_unassign)
      end
      assert.has_error(function() client:list_devices { serial = "  " .. NBSP } end)
    end)
  end)
end)
