--- A hostile Graph for the emulator host: device listings that never end or name unusable next pages, as a
-- broken or malicious service might. The first path segment picks the behaviour (clients take
-- `url .. "/<mode>"` as their graph_url); every page's nextLink stays on that graph_url:
--   empty     empty pages, each naming a new next page
--   same      the same device on every page, each naming a new next page
--   one_new   one new device per page, forever
--   crlf      one device, then a nextLink with CR LF inside
--   long      one device, then a nextLink 1 MB long
-- Counts the requests it saw (`state().requests`).
local M, App = require("stub_app").module()

local COLLECTION = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"

local function guid(n)
  return string.format("5f0e5a5c-7b8b-4f8e-9d5b-%012x", n)
end

local function device(n)
  return string.format('{"id":"%s","serialNumber":"S%d","groupTag":"","userPrincipalName":""}', guid(n), n)
end

--- One page, by the mode in the path.
-- @tparam table req method, target, headers, scheme
-- @treturn table resp
function App:handle(req)
  self.requests = self.requests + 1
  local n = self.requests
  local mode = req.target:match("^/([%w_]+)/") or ""
  local base = req.scheme .. "://" .. req.headers.host .. "/" .. mode .. COLLECTION
  local items, link = {}, base .. "?$skiptoken=" .. n
  if mode == "same" then
    items[1] = device(1)
  elseif mode == "one_new" then
    items[1] = device(n)
  elseif mode == "crlf" then
    items[1] = device(1)
    link = base .. "?$skiptoken=a\r\nX-Injected: yes"
  elseif mode == "long" then
    items[1] = device(1)
    link = base .. "?$skiptoken=" .. string.rep("a", 1024 * 1024)
  elseif mode ~= "empty" then
    return { status = 404, headers = { ["Content-Type"] = "application/json" },
             body = '{"error":{"code":"ResourceNotFound","message":"unknown mode"}}' }
  end
  -- a link is JSON-escaped as a service would (CR LF become \r\n in the text, real ones once decoded)
  local escaped = link:gsub("\r", "\\r"):gsub("\n", "\\n")
  return { status = 200, headers = { ["Content-Type"] = "application/json" },
           body = '{"value":[' .. table.concat(items, ",") .. '],"@odata.nextLink":"' .. escaped .. '"}' }
end

return M
