--- URLs: the one place they are checked, joined and compared, so a bearer token only ever goes where the
-- caller pointed the client.
--
-- A base URL (`graph_url`, `login_url`, a managed identity endpoint) is http(s), has a host, carries no
-- user name or password (they would be sent and shown), no query or fragment, no white space or control
-- characters; trailing slashes are dropped. A URL the client is about to send a token to (a path it was
-- given, an `@odata.nextLink`) must stay under its Graph base URL once dot segments are resolved.
-- @module autopilot.url
local ids = require "autopilot.ids"

local M = {}

M.MAX_LENGTH = 8192 -- longer than any URL Graph sends; curl and proxies refuse far less already

--- Check and normalise a base URL.
-- @tparam string name the option's name, for the message
-- @tparam string url
-- @treturn[1] string the URL without trailing slashes
-- @return[2] nil
-- @treturn[2] string what is wrong, in the user's words
function M.base(name, url)
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  local lower = scheme and scheme:lower()
  if #url > M.MAX_LENGTH then return nil, name .. " is too long (" .. #url .. " bytes)" end
  if lower ~= "http" and lower ~= "https" then
    return nil, name .. " must be an http(s) URL, got " .. ids.describe(url)
  end
  if authority:find("@", 1, true) then
    return nil, name .. " must not carry a user name or password (give credentials as options, never in a URL)"
  end
  if authority == "" or not authority:find("^[%w%.%-%[%]:]+$") or url:find("[%s%c]") or path:find("[?#]") then
    return nil, name .. " must be an http(s) URL without query, got " .. ids.describe(url)
  end
  return (url:gsub("/+$", ""))
end

--- The API versions a Graph URL must not carry itself: the client adds its `api_version` to every path.
M.VERSIONS = { ["v1.0"] = true, beta = true }

--- Check and normalise a Graph base URL: a base URL (see `base`) that holds no API version segment
-- (`https://graph.microsoft.com/v1.0` would send every request to `/v1.0/v1.0/...` and meet a bare 400).
-- @tparam string url
-- @treturn[1] string the URL without trailing slashes
-- @return[2] nil
-- @treturn[2] string what is wrong, with the URL to give instead
function M.graph_base(url)
  local b, err = M.base("graph_url", url)
  if not b then return nil, err end
  local version, root = M.api_version_in(b)
  if version then
    return nil, string.format("graph_url must not include the API version (%s): give %s and choose the "
      .. "version with api_version (\"v1.0\" or \"beta\")", ids.describe(version), root)
  end
  return b
end

--- The first API version segment in a URL's path, if any, and the URL up to it.
-- @tparam string url an absolute URL
-- @treturn[1] string the segment as written (e.g. "v1.0", "Beta")
-- @treturn[1] string the URL before it (no trailing slash)
-- @return[2] nil when the path holds none
function M.api_version_in(url)
  local head, path = url:match("^(%a[%w+.-]*://[^/]*)(.*)$")
  if not head then return nil end
  local kept = {}
  for seg in path:gmatch("[^/]+") do
    if M.VERSIONS[seg:lower()] then
      return seg, head .. (#kept > 0 and "/" .. table.concat(kept, "/") or "")
    end
    kept[#kept + 1] = seg
  end
  return nil
end

--- Resolve "." and ".." segments of a URL's path (RFC 3986 section 5.2.4); the query is kept as it is.
-- @tparam string url an absolute http(s) URL
-- @treturn string
function M.resolve_dots(url)
  local head, path, rest = url:match("^(%a[%w+.-]*://[^/?#]*)([^?#]*)(.*)$")
  if not head then return url end
  local out = {}
  local trailing = path:find("/%.%.?$") or path:sub(-1) == "/"
  for seg in path:gmatch("[^/]+") do
    local plain = seg:gsub("%%2[eE]", ".")
    if plain == ".." then
      out[#out] = nil
    elseif plain ~= "." then
      out[#out + 1] = seg
    end
  end
  local resolved = "/" .. table.concat(out, "/")
  if trailing and #out > 0 then resolved = resolved .. "/" end
  return head .. resolved .. rest
end

local function split(url)
  return url:match("^(%a[%w+.-]*://[^/?#]*)([^?#]*)")
end

--- Whether a URL stays under a base URL: the same scheme, host and port (without regard to case), and a
-- path below the base's once dot segments are resolved.
-- @tparam string base a base URL from `base`
-- @tparam string url
-- @treturn boolean
function M.is_under(base, url)
  if type(url) ~= "string" or #url > M.MAX_LENGTH or url:find("[%s%c]") then return false end
  local origin, path = split(M.resolve_dots(url))
  local borigin, bpath = split(base)
  if not origin or not borigin or origin:lower() ~= borigin:lower() then return false end
  return path:sub(1, #bpath + 1) == bpath .. "/"
end

--- A URL for a path under a base URL and API version: `base .. "/" .. version .. path`.
-- @tparam string base
-- @tparam string version "v1.0" or "beta"
-- @tparam string path starting with "/"
-- @treturn string
function M.join(base, version, path)
  return base .. "/" .. version .. path
end

return M
