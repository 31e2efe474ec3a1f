--- Request helpers for the emulated identity platform: targets, query strings and
-- `application/x-www-form-urlencoded` bodies, parsed and percent-decoded here (the host hands
-- the raw target and body over untouched).
-- @module autopilot.emulator.identity.form
local M = {}

local function unhex(h)
  return string.char(tonumber(h, 16))
end

--- Percent-decodes one form component (`+` is a space).
-- @tparam string s the encoded text
-- @treturn string the decoded text (malformed escapes are kept as they are)
function M.decode(s)
  s = s:gsub("+", " ")
  return (s:gsub("%%(%x%x)", unhex))
end

--- Percent-encodes a string for a query or form value.
-- @tparam string s
-- @treturn string
function M.encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- Parses `a=1&b=2` into a table. The first occurrence of a name wins; names are case-sensitive,
-- as the service treats them.
-- @tparam string|nil text the query string or form body
-- @treturn table name -> decoded value (empty when `text` is nil or empty)
function M.parse(text)
  local out = {}
  if not text or text == "" then return out end
  for pair in text:gmatch("[^&]+") do
    local eq = pair:find("=", 1, true)
    local name, value
    if eq then
      name, value = pair:sub(1, eq - 1), pair:sub(eq + 1)
    else
      name, value = pair, ""
    end
    name = M.decode(name)
    if name ~= "" and out[name] == nil then out[name] = M.decode(value) end
  end
  return out
end

--- Splits a raw request target into its decoded path segments and its query table.
-- @tparam string target e.g. "/contoso.onmicrosoft.com/oauth2/v2.0/token?x=1"
-- @treturn string the raw path (still encoded)
-- @treturn table the decoded path segments
-- @treturn table the parsed query
function M.target(target)
  local path, query = target:match("^([^?#]*)%??([^#]*)")
  path = path or target
  local segments = {}
  for seg in path:gmatch("[^/]+") do segments[#segments + 1] = M.decode((seg:gsub("+", "%%2B"))) end
  return path, segments, M.parse(query)
end

--- The request's form parameters: the body when its Content-Type is form-encoded, else none
-- (the service then reports the first missing parameter).
-- @tparam table req the host's request table
-- @treturn table name -> decoded value
function M.body(req)
  local ctype = (req.headers and req.headers["content-type"] or ""):lower()
  if not ctype:find("application/x-www-form-urlencoded", 1, true) then return {} end
  return M.parse(req.body)
end

--- Splits a space-separated list (scopes), dropping empty items.
-- @tparam string|nil s
-- @treturn table array of items
function M.words(s)
  local out = {}
  for w in (s or ""):gmatch("%S+") do out[#out + 1] = w end
  return out
end

return M
