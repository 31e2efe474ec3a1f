-- autopilot.token_cache: the cache's format and policy (the file operations are core_token_cache_spec).
local token_cache = require "autopilot.token_cache"
local files = require "files"

describe("autopilot.token_cache", function()
  local dir
  before_each(function() dir = files.tempdir() end)
  after_each(function() files.remove(dir) end)

  it("keys entries by tenant, client and scopes, whatever their case and order", function()
    assert.equal(token_cache.key("Contoso.com", "ABC", "b a"), token_cache.key("contoso.com", "abc", "A  B"))
    assert.not_equal(token_cache.key("t", "c", "a"), token_cache.key("t", "c", "a b"))
  end)

  it("stores, reads back in another instance, and forgets a refresh token", function()
    local path = dir .. "/cache.json"
    local c = assert(token_cache.open(path))
    assert.is_nil(c:get("k"))
    assert(c:store("k", "rt-1"))
    assert(c:store("other", "rt-2"))
    local again = assert(token_cache.open(path))
    assert.equal("rt-1", again:get("k"))
    assert.equal("rt-2", again:get("other"))
    assert(again:store("k", false))
    assert.is_nil(assert(token_cache.open(path)):get("k"))
    assert.matches("^autopilot.TokenCache %(.*, 1 entries%)$", tostring(again))
    assert.is_nil(tostring(again):find("rt-", 1, true))
  end)

  it("keeps what another process stored meanwhile when storing", function()
    local path = dir .. "/cache.json"
    local a, b = assert(token_cache.open(path)), assert(token_cache.open(path))
    assert(a:store("one", "rt-a"))
    assert(b:store("two", "rt-b")) -- b never saw "one"
    local c = assert(token_cache.open(path))
    assert.equal("rt-a", c:get("one"))
    assert.equal("rt-b", c:get("two"))
  end)

  it("answers a refusal with a newer token another process stored, else forgets the entry", function()
    local path = dir .. "/cache.json"
    local mine, theirs = assert(token_cache.open(path)), assert(token_cache.open(path))
    assert(mine:store("k", "old"))
    assert(theirs:store("k", "newer"))
    assert.equal("newer", mine:refused("k", "old"))
    assert.is_nil(mine:refused("k", "newer"))
    assert.is_nil(assert(token_cache.open(path)):get("k"))
  end)

  it("refuses a file that is not a cache, and leaves it as it is", function()
    local path = dir .. "/cache.json"
    for _, text in ipairs { "not json", '{"kind":"something else","entries":{}}',
                            '{"kind":"lua-autopilot token cache","entries":{"k":{"refresh_token":5}}}' } do
      files.write(path, text)
      os.execute("chmod 600 " .. path)
      local c, err = token_cache.open(path)
      assert.is_nil(c)
      assert.matches("delete it to sign in again", err, 1, true)
      assert.equal(text, files.read(path))
    end
  end)
end)
