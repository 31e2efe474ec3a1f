--- OData query handling for the Autopilot device collection: query strings, the `$filter`
-- subset the service accepts, and the `LastSerialNumber` skip token.
--
-- Filters: `contains(prop,'text')` and `startswith(prop,'text')` on serialNumber, groupTag,
-- model, displayName and userPrincipalName (property names in any case; matching ignores case),
-- joined with `and`/`or` (and binds tighter) and parentheses. Comparison operators (`eq`, `ne`,
-- `gt`, ...), `not`, `in` and other functions are refused as the service refuses them, and so is a
-- `contains` whose text holds a hyphen (the 2023 service rejected those).
-- @module autopilot.emulator.odata
local M = {}

local function unhex(h) return string.char(tonumber(h, 16)) end

--- Decodes percent-escapes (and `+` as a space, as the service's front end does).
-- @tparam string s
-- @treturn string
function M.unescape(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", unhex))
end

--- Percent-encodes everything but RFC 3986 unreserved characters.
-- @tparam string s
-- @treturn string
function M.escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- Splits a raw query string.
-- @tparam string qs the raw text after `?` (may be empty)
-- @treturn table array of `{ raw = "...", key = "$top" (decoded, lower case), value = "..." (decoded) }`
-- @treturn table map from decoded lower-case key to decoded value (last wins); `$` optional, so
-- `top` and `$top` both land on `$top`
function M.parse_query(qs)
  local list, map = {}, {}
  for part in qs:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    local key = M.unescape(k):lower()
    if key:sub(1, 1) ~= "$" and (key == "top" or key == "filter" or key == "skiptoken" or key == "select"
        or key == "orderby" or key == "skip" or key == "count" or key == "search" or key == "expand") then
      key = "$" .. key
    end
    local value = M.unescape(v)
    list[#list + 1] = { raw = part, key = key, value = value }
    map[key] = value
  end
  return list, map
end

-- Filterable properties by lower-case name.
M.FILTERABLE = {
  serialnumber = "serialNumber", grouptag = "groupTag", model = "model", displayname = "displayName",
  userprincipalname = "userPrincipalName",
}

local OPERATORS = { eq = true, ne = true, gt = true, ge = true, lt = true, le = true, has = true, ["in"] = true,
  add = true, sub = true, mul = true, div = true, mod = true }

-- Tokens: { t = "(" | ")" | "," | "str" | "word", v = text, pos = offset }
local function tokenize(s)
  local toks, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "(" or c == ")" or c == "," then
      toks[#toks + 1] = { t = c, pos = i }
      i = i + 1
    elseif c == "'" then
      local buf, j = {}, i + 1
      while true do
        if j > n then return nil, { kind = "syntax", pos = i, message = "Unterminated string literal" } end
        local d = s:sub(j, j)
        if d == "'" then
          if s:sub(j + 1, j + 1) == "'" then buf[#buf + 1] = "'"; j = j + 2 else break end
        else
          buf[#buf + 1] = d; j = j + 1
        end
      end
      toks[#toks + 1] = { t = "str", v = table.concat(buf), pos = i }
      i = j + 1
    else
      local w = s:match("^[%w_%.%-/:]+", i)
      if not w then return nil, { kind = "syntax", pos = i, message = "Unexpected character '" .. c .. "'" } end
      toks[#toks + 1] = { t = "word", v = w, pos = i }
      i = i + #w
    end
  end
  return toks
end

--- Compiles a `$filter` expression.
-- @tparam string text the decoded filter
-- @treturn[1] function predicate(device) -> boolean
-- @return[2] nil
-- @treturn[2] table `{ kind = "syntax"|"unsupported"|"property"|"hyphen", message = "..." }`: the caller
-- answers "syntax" and "property" with Graph's plain 400 and the others with Intune's wrapped 400
function M.compile_filter(text)
  local toks, terr = tokenize(text)
  if not toks then return nil, terr end
  local p = 1
  local function peek() return toks[p] end
  local function fail(kind, msg) error({ odata = true, kind = kind, message = msg }, 0) end
  local function expect(t)
    local tok = toks[p]
    if not tok or tok.t ~= t then
      fail("syntax", "Syntax error: expected '" .. t .. "' at position " .. (tok and tok.pos or #text + 1)
        .. " in '" .. text .. "'.")
    end
    p = p + 1
    return tok
  end
  local expr
  local function primary()
    local tok = peek()
    if not tok then fail("syntax", "Syntax error: unexpected end of '" .. text .. "'.") end
    if tok.t == "(" then
      p = p + 1
      local e = expr()
      expect(")")
      return e
    end
    if tok.t ~= "word" then
      fail("syntax", "Syntax error at position " .. tok.pos .. " in '" .. text .. "'.")
    end
    local word = tok.v:lower()
    local nxt = toks[p + 1]
    if word == "not" then fail("unsupported", "The 'not' operator is not supported.") end
    if nxt and nxt.t == "(" then
      if word ~= "contains" and word ~= "startswith" then
        fail("unsupported", "The function '" .. tok.v .. "' is not supported.")
      end
      p = p + 2
      local prop = expect("word")
      local field = M.FILTERABLE[prop.v:lower()]
      expect(",")
      local lit = expect("str")
      expect(")")
      if not field then
        fail("property", "Could not find a property named '" .. prop.v
          .. "' on type 'microsoft.graph.windowsAutopilotDeviceIdentity'.")
      end
      if word == "contains" and lit.v:find("-", 1, true) then
        fail("hyphen", "contains() value holds a hyphen")
      end
      local needle = lit.v:lower()
      -- the lower-cased value is cached on the record under "_l<field>" (the store drops it on writes)
      local lkey = "_l" .. field
      if word == "contains" then
        return function(d)
          local v = d[lkey]
          if not v then v = d[field]:lower(); d[lkey] = v end
          return v:find(needle, 1, true) ~= nil
        end
      end
      local len = #needle
      return function(d)
        local v = d[lkey]
        if not v then v = d[field]:lower(); d[lkey] = v end
        return v:sub(1, len) == needle
      end
    end
    -- property <op> value: refused whatever the property, as the service refuses it
    if nxt and nxt.t == "word" and OPERATORS[nxt.v:lower()] then
      fail("unsupported", "The operator '" .. nxt.v .. "' is not supported.")
    end
    fail("syntax", "Syntax error at position " .. tok.pos .. " in '" .. text .. "'.")
  end
  local function conj()
    local left = primary()
    while peek() and peek().t == "word" and peek().v:lower() == "and" do
      p = p + 1
      local a, b = left, primary()
      left = function(d) return a(d) and b(d) end
    end
    return left
  end
  expr = function()
    local left = conj()
    while peek() and peek().t == "word" and peek().v:lower() == "or" do
      p = p + 1
      local a, b = left, conj()
      left = function(d) return a(d) or b(d) end
    end
    return left
  end
  local ok, res = pcall(function()
    local e = expr()
    if p <= #toks then
      local tok = toks[p]
      if tok.t == "word" and OPERATORS[tok.v:lower()] then
        fail("unsupported", "The operator '" .. tok.v .. "' is not supported.")
      end
      fail("syntax", "Syntax error at position " .. tok.pos .. " in '" .. text .. "'.")
    end
    return e
  end)
  if ok then return res end
  if type(res) == "table" and res.odata then return nil, { kind = res.kind, message = res.message } end
  error(res, 0)
end

--- Parses a `$skiptoken` value.
-- @tparam string value decoded, e.g. `LastSerialNumber='ABC'`
-- @treturn[1] string the serial number
-- @return[2] nil when the token is not of that form
function M.parse_skiptoken(value)
  local inner = value:match("^%s*[Ll]ast[Ss]erial[Nn]umber%s*=%s*'(.*)'%s*$")
  if not inner then return nil end
  if inner:gsub("''", ""):find("'", 1, true) then return nil end
  return (inner:gsub("''", "'"))
end

--- The raw query-string item for a cursor at `serial` (quotes doubled, then percent-encoded).
-- @tparam string serial
-- @treturn string e.g. `$skiptoken=LastSerialNumber='VMware-56%204d'`
function M.skiptoken_item(serial)
  return "$skiptoken=LastSerialNumber='" .. M.escape(serial:gsub("'", "''")):gsub("%%27", "'") .. "'"
end

--- Rebuilds a query string with the cursor replaced (other items keep their raw text and order).
-- @tparam table list as returned by `parse_query`
-- @tparam string serial the cursor
-- @treturn string the new query string (without `?`)
function M.with_skiptoken(list, serial)
  local out, placed = {}, false
  for _, item in ipairs(list) do
    if item.key == "$skiptoken" then
      if not placed then out[#out + 1] = M.skiptoken_item(serial); placed = true end
    else
      out[#out + 1] = item.raw
    end
  end
  if not placed then out[#out + 1] = M.skiptoken_item(serial) end
  return table.concat(out, "&")
end

return M
