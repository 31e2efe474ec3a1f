-- autopilot.url: base URLs, dot segments, and whether a URL stays under the client's Graph URL.
local url = require "autopilot.url"

describe("autopilot.url", function()
  it("takes an http(s) base URL and drops trailing slashes", function()
    assert.equal("https://graph.microsoft.com", url.base("graph_url", "https://graph.microsoft.com/"))
    assert.equal("http://127.0.0.1:5000/prefix", url.base("graph_url", "http://127.0.0.1:5000/prefix//"))
    assert.equal("http://[::1]:80", url.base("graph_url", "http://[::1]:80"))
  end)

  it("refuses other schemes, queries, spaces, and credentials in the URL", function()
    for _, case in ipairs {
      { "ftp://x", "must be an http(s) URL" }, { "graph.microsoft.com", "must be an http(s) URL" },
      { "https://h/?a=1", "without query" }, { "https://h/a b", "without query" }, { "https://", "without query" },
      { "https://user:pw@h", "must not carry a user name or password" },
      { "https://h/" .. string.rep("a", 9000), "too long" },
    } do
      local ok, err = url.base("graph_url", case[1])
      assert.is_nil(ok)
      assert.matches(case[2], err, 1, true)
      assert.is_nil(err:find("pw", 1, true))
    end
  end)

  it("resolves dot segments, also percent-encoded ones, and keeps the query", function()
    assert.equal("http://h/c/d?x=/../y", url.resolve_dots("http://h/a/b/../../../c/./d?x=/../y"))
    assert.equal("http://h/q", url.resolve_dots("http://h/p/%2e%2E/q"))
    assert.equal("http://h/a/", url.resolve_dots("http://h/a/b/.."))
  end)

  it("says whether a URL stays under a base URL", function()
    local base = "http://h:1/p"
    assert.is_true(url.is_under(base, "http://h:1/p/v1.0/x?$top=1"))
    assert.is_true(url.is_under(base, "HTTP://H:1/p/v1.0"))
    assert.is_false(url.is_under(base, "http://h:1/p/../x"))
    assert.is_false(url.is_under(base, "http://h:1/p/%2e%2e/x"))
    assert.is_false(url.is_under(base, "http://h:1/px/y"))
    assert.is_false(url.is_under(base, "http://h:2/p/x"))
    assert.is_false(url.is_under(base, "https://h:1/p/x"))
    assert.is_false(url.is_under(base, "http://h:1/p/x\r\nHost: evil"))
    assert.is_false(url.is_under(base, 5))
  end)
end)

describe("autopilot.url.graph_base", function()
  it("refuses a Graph URL that already holds the API version, naming the URL to give", function()
    assert.equal("https://graph.microsoft.com", url.graph_base("https://graph.microsoft.com/"))
    assert.equal("http://127.0.0.1:8080/proxy", url.graph_base("http://127.0.0.1:8080/proxy"))
    for _, bad in ipairs { "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/BETA/",
                           "https://graph.microsoft.com/v1.0/deviceManagement" } do
      local ok, why = url.graph_base(bad)
      assert.is_nil(ok, bad)
      assert.matches("graph_url must not include the API version", why, 1, true)
      assert.matches("give https://graph.microsoft.com and choose the version with api_version", why, 1, true)
    end
    local _, why = url.graph_base("http://127.0.0.1:9/proxy/beta")
    assert.matches("give http://127.0.0.1:9/proxy ", why, 1, true)
    assert.is_nil((url.graph_base("ftp://x")))
  end)
end)
