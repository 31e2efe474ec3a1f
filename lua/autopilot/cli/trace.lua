--- The `-v` HTTP trace: one line on stderr per Graph request (method, URL, status, request-id, attempts,
-- elapsed seconds), never a header or a body, so never a token.
--
-- The C core has no trace hook; this wraps the client's session (`client._session`, see doc/INTERNALS.md)
-- in a Lua proxy that notes each request when it is submitted and writes its line when its result comes
-- back (from `request` or `poll`). Token requests are made inside the core and do not show.
-- @module autopilot.cli.trace
local core = require "autopilot.core"

local M = {}

--- The trace line of one finished request (pure, for the spec).
-- @tparam string method
-- @tparam string url
-- @tparam table result the core's result (`status`, `headers`, `attempts`, `transport`, `auth`)
-- @tparam number elapsed seconds from submission to the result
-- @treturn string
function M.line(method, url, result, elapsed)
  local status
  if result.transport then
    status = "transport " .. tostring(result.transport.code)
  elseif result.auth then
    status = "sign-in failed" .. (result.auth.status and (" " .. result.auth.status) or "")
  else
    status = tostring(result.status)
  end
  local rid = result.headers and result.headers["request-id"] or "-"
  return string.format("> %s %s -> %s request-id=%s attempts=%d %.3fs", method, url, status, rid,
    result.attempts or 0, elapsed)
end

--- Trace every request of a client's session on `out` from now on.
-- @tparam autopilot.Client client
-- @tparam[opt] file out defaults to io.stderr
-- @treturn autopilot.Client the same client
function M.attach(client, out)
  out = out or io.stderr
  local session = client._session
  local pending = {} -- submission id -> { method, url, started }
  local function finish(result)
    local p = pending[result.id]
    if p then
      pending[result.id] = nil
      out:write(M.line(p[1], p[2], result, core.clock() - p[3]), "\n")
    end
    return result
  end
  local proxy = {}
  function proxy.submit(_, req)
    local id = session:submit(req)
    pending[id] = { req.method or "GET", req.url, core.clock() }
    return id
  end
  function proxy.request(_, req)
    local started = core.clock()
    local result = session:request(req)
    out:write(M.line(req.method or "GET", req.url, result, core.clock() - started), "\n")
    return result
  end
  function proxy.poll(_, ...)
    local results = session:poll(...)
    for _, r in ipairs(results) do finish(r) end
    return results
  end
  -- everything else (stats, configure, token_info, pending, close) goes to the session itself
  setmetatable(proxy, { __index = function(_, k)
    local v = session[k]
    if type(v) ~= "function" then return v end
    return function(_, ...) return v(session, ...) end
  end })
  client._session = proxy
  return client
end

return M
