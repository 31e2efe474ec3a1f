-- autopilot.clouds: the Graph and login hosts of each national cloud.
local clouds = require "autopilot.clouds"

describe("autopilot.clouds", function()
  it("knows the four clouds", function()
    assert.equal("https://graph.microsoft.us", clouds.lookup("usgov").graph)
    assert.equal("https://dod-graph.microsoft.us", clouds.lookup("dod").graph)
    assert.equal(clouds.lookup("usgov").login, clouds.lookup("dod").login)
    assert.equal("https://login.chinacloudapi.cn", clouds.lookup("china").login)
    assert.equal("https://graph.microsoft.com", clouds.lookup("global").graph)
  end)

  it("names the known clouds for an unknown one", function()
    local c, err = clouds.lookup("mars")
    assert.is_nil(c)
    assert.matches("global, usgov, dod, china", err, 1, true)
    assert.is_nil(clouds.lookup("lookup"))
  end)
end)
