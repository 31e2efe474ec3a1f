local odata = require "autopilot.odata"

describe("autopilot.odata", function()
  it("builds contains() filters with quotes doubled and the value URL-encoded", function()
    local plan = odata.plan { serial = "O'Brien 1", group_tag = "Kiosk" }
    assert.equal("contains(serialNumber,'O''Brien 1') and contains(groupTag,'Kiosk')", plan.filter)
    assert.is_true(plan.keyed)
    assert.equal("http://x/c?$filter=contains%28serialNumber%2C%27O%27%27Brien%201%27%29%20and%20"
      .. "contains%28groupTag%2C%27Kiosk%27%29", odata.url("http://x/c", plan))
    assert.equal("http://x/c", odata.url("http://x/c", plan, true))
  end)

  it("raises on unknown keys and wrong types, naming them", function()
    assert.has_error(function() odata.plan { serail = "x" } end,
      "unknown query key 'serail' (serial, group_tag, model, user, display_name, filter, top)")
    assert.has_error(function() odata.plan { serial = 5 } end, "query.serial must be a string, got number")
    assert.has_error(function() odata.plan { top = 0 } end)
    assert.has_error(function() odata.plan { serial = "a\nb" } end)
  end)

  it("matches serials exactly and other keys without regard to case", function()
    local plan = odata.plan { serial = "AB 1", group_tag = "kiosk" }
    assert.is_true(odata.matches({ serialNumber = "AB 1", groupTag = "Kiosk" }, plan))
    assert.is_false(odata.matches({ serialNumber = "AB 12", groupTag = "Kiosk" }, plan))
    assert.is_false(odata.matches({ serialNumber = "ab 1", groupTag = "Kiosk" }, plan))
  end)

  it("walks pages, drops repeated boundary devices and stops on a repeating link", function()
    local pages = {
      ["u1"] = { value = { { id = "a" }, { id = "b" } }, ["@odata.nextLink"] = "u2" },
      ["u2"] = { value = { { id = "b" }, { id = "c" } }, ["@odata.nextLink"] = "u3" },
      ["u3"] = { value = {}, ["@odata.nextLink"] = "u4" },
      ["u4"] = { value = { { id = "c" }, { id = "d" } }, ["@odata.nextLink"] = "u4" },
    }
    local got = {}
    for d in odata.pages(function(u) return pages[u] end, "u1") do got[#got + 1] = d.id end
    assert.same({ "a", "b", "c", "d" }, got)
  end)

  it("stops when a page brings nothing new (the $top=1 loop)", function()
    local calls = 0
    local fetch = function()
      calls = calls + 1
      return { value = { { id = "a" } }, ["@odata.nextLink"] = "next-" .. calls }
    end
    local got = {}
    for d in odata.pages(fetch, "first") do got[#got + 1] = d.id end
    assert.same({ "a" }, got)
    assert.equal(2, calls)
  end)

  it("reports a failure in the middle as false, err and then ends", function()
    local fetch = function(u)
      if u == "u1" then return { value = { { id = "a" } }, ["@odata.nextLink"] = "u2" } end
      return nil, "boom"
    end
    local iter = odata.pages(fetch, "u1")
    assert.equal("a", iter().id)
    local d, err = iter()
    assert.is_false(d)
    assert.equal("boom", err)
    assert.is_nil(iter())
  end)
end)
