--- The refresh-token cache: which refresh token signs a script in silently next time.
-- One JSON file (0600, written atomically under a lock by the C core's `token_cache_*` functions) holds
-- one refresh token per tenant, client and scopes:
--
--     { "version": 1, "kind": "lua-autopilot token cache",
--       "entries": { "<tenant> <client_id> <scopes>": { "refresh_token": "...", "updated": 1767225600 } } }
--
-- A file that is not such JSON, a symbolic link, another user's file or one open to group or others is
-- refused with a message that says what to do; it is never silently overwritten.
-- @module autopilot.token_cache
local core = require "autopilot.core"
local json = require "autopilot.json"

local M = {}

local KIND = "lua-autopilot token cache"

local Cache = {}
Cache.__index = Cache
Cache.__name = "autopilot.TokenCache"

--- The entry key of a tenant, client and scope list (order of scopes does not matter).
-- @tparam string tenant
-- @tparam string client_id
-- @tparam string scope space-separated scopes
-- @treturn string
function M.key(tenant, client_id, scope)
  local words = {}
  for w in scope:gmatch("%S+") do words[#words + 1] = w:lower() end
  table.sort(words)
  return tenant:lower() .. " " .. client_id:lower() .. " " .. table.concat(words, " ")
end

-- Reads and checks the file: a table of entries, or nil and why.
local function load(path)
  local text, err = core.token_cache_read(path)
  if text == nil then return nil, err end
  if text == false then return {} end
  local doc = json.decode(text)
  if type(doc) ~= "table" or doc.kind ~= KIND or type(doc.entries) ~= "table" then
    return nil, "token cache " .. path .. " is corrupted or not a lua-autopilot token cache: "
      .. "delete it to sign in again"
  end
  for k, e in pairs(doc.entries) do
    if type(k) ~= "string" or type(e) ~= "table" or type(e.refresh_token) ~= "string" then
      return nil, "token cache " .. path .. " has a damaged entry: delete it to sign in again"
    end
  end
  return doc.entries
end

--- Opens a cache: reads and checks the file now, so a bad one is reported before anything is sent.
-- @tparam string path the cache file (its directory must exist; the file need not)
-- @treturn[1] autopilot.TokenCache
-- @return[2] nil
-- @treturn[2] string what is wrong and what to do (never the file's contents)
function M.open(path)
  local entries, err = load(path)
  if not entries then return nil, err end
  return setmetatable({ path = path, _entries = entries }, Cache)
end

--- The refresh token stored under `key`, or nil.
-- @tparam string key from @{key}
-- @treturn string|nil
function Cache:get(key)
  local e = self._entries[key]
  return e and e.refresh_token or nil
end

--- Stores (or with `false`, forgets) the refresh token of `key`: re-reads the file under the lock, so
-- other entries written meanwhile by another process are kept, then replaces it atomically.
-- @tparam string key from @{key}
-- @tparam string|false refresh_token
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string why it was not written (also kept in `cache.error`)
function Cache:store(key, refresh_token)
  local lock <close>, lerr = core.token_cache_lock(self.path)
  if not lock then
    self.error = lerr
    return nil, lerr
  end
  local entries, err = load(self.path)
  if not entries then
    self.error = err
    return nil, err
  end
  entries[key] = refresh_token and { refresh_token = refresh_token, updated = os.time() } or nil
  local text = assert(json.encode({ version = 1, kind = KIND, entries = entries })) -- {} stays an object
  local ok, werr = core.token_cache_write(self.path, text)
  if not ok then
    self.error = werr
    return nil, werr
  end
  self._entries, self.error = entries, nil
  return true
end

--- The service refused `tried`: returns the newer refresh token another process stored under `key`
-- meanwhile, if there is one; else forgets the entry (under the lock) and returns nil.
-- @tparam string key from @{key}
-- @tparam string|nil tried the refresh token that was refused
-- @treturn string|nil a newer refresh token to try
function Cache:refused(key, tried)
  local lock <close>, lerr = core.token_cache_lock(self.path)
  if not lock then
    self.error = lerr
    return nil
  end
  local entries, err = load(self.path)
  if not entries then
    self.error = err
    return nil
  end
  local e = entries[key]
  if e and e.refresh_token ~= tried then
    self._entries = entries
    return e.refresh_token
  end
  if e then
    entries[key] = nil
    local ok, werr = core.token_cache_write(self.path, assert(json.encode({ version = 1, kind = KIND,
      entries = entries })))
    if not ok then
      self.error = werr
      return nil
    end
  end
  self._entries, self.error = entries, nil
  return nil
end

--- One line for the REPL: the path and how many entries, never a token.
function Cache:__tostring()
  local n = 0
  for _ in pairs(self._entries) do n = n + 1 end
  return string.format("autopilot.TokenCache (%s, %d entries)", self.path, n)
end

return M
