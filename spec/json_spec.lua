-- autopilot.json: the one JSON instance of the client's modules.
local json = require "autopilot.json"

describe("autopilot.json", function()
  it("is one instance, private to the client and safe", function()
    assert.equal(json, require "autopilot.json")
    assert.not_equal(require "cjson", json)
    local v, err = json.decode("{not json")
    assert.is_nil(v)
    assert.is_string(err)
    assert.same({ a = { 1, 2 } }, json.decode(json.encode { a = { 1, 2 } }))
  end)
end)
