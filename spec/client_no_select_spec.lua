-- The service answers HTTP 500 whenever $select is used on the Autopilot device collection (reported in
-- 2021 and July 2026, v1.0 and beta), so no request the client makes may carry it. The emulator answers
-- $select with 500 too (its default); these calls succeeding and the log holding no $select show both.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"

describe("the client never sends $select", function()
  for _, version in ipairs({ "v1.0", "beta" }) do
    it("in listings, lookups and a bulk plan (" .. version .. ")", function()
      local emu <close> = assert(emulator.start { devices = 30, seed = 5 })
      local client = tenant.connect(emu, { api_version = version })
      local list = assert(client:list_devices())
      assert.equal(30, #list)
      assert(client:list_devices({ serial = list[1].serialNumber }))
      local n = 0
      for d in client:each_device() do if d then n = n + 1 end end
      assert.equal(30, n)
      assert(client:device(list[2].id))
      local report = assert(client:unassign_users({ list[3].id, list[4].id }, { dry_run = true }))
      assert.is_true(report.dry_run)
      local log = emu:state({ devices = false }).log
      assert.is_true(#log >= 5)
      for _, e in ipairs(log) do
        assert.is_nil(e.path:lower():find("select", 1, true), e.path)
        assert.is_true(e.status < 500, e.path .. " answered " .. e.status)
      end
      client:close()
    end)
  end
end)
