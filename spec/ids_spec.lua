local ids = require "autopilot.ids"

describe("autopilot.ids", function()
  it("accepts GUIDs in either case", function()
    assert.is_true(ids.check("5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f"))
    assert.is_true(ids.check("5F0E5A5C-7B8B-4F8E-9D5B-0D8A2B6C1E3F"))
  end)

  it("rejects what is not a GUID, saying why without echoing it whole", function()
    local long = string.rep("a", 10000)
    for _, bad in ipairs { "", "5f0e5a5c", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3", "../../me",
                           "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3g", "5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f\n",
                           "5f0e5a5c-7b8b-4f8e-9d5b\0-0d8a2b6c1e3", long, 42, true } do
      local ok, why = ids.check(bad)
      assert.is_nil(ok)
      assert.is_string(why)
      assert.is_true(#why < 200)
      assert.is_nil(why:find("[\0\n]"))
    end
  end)

  it("describes long and binary values in a bounded, printable way", function()
    assert.equal('"ab\\x0Acd"', ids.describe("ab\ncd"))
    assert.matches("%(10000 bytes%)", ids.describe(string.rep("x", 10000)))
    assert.equal("number", ids.describe(1))
  end)
end)
