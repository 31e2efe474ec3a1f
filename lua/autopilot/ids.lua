--- Device id checks: an id reaches a URL only after it is proven to be a GUID.
-- @module autopilot.ids
local M = {}

local GUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

--- A short, printable rendering of an untrusted value for error messages.
-- Control bytes are escaped and long values cut, so a 10 kB or binary id cannot flood a log.
-- @param v any value
-- @treturn string
function M.describe(v)
  if type(v) ~= "string" then return type(v) end
  local shown = v:sub(1, 40):gsub("[%c\128-\255\"\\]", function(c) return string.format("\\x%02X", c:byte()) end)
  if #v > 40 then shown = shown .. string.format("... (%d bytes)", #v) end
  return '"' .. shown .. '"'
end

--- Whether `id` is a device id (a GUID such as `"5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f"`).
-- @param id any value
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string why it is not one
function M.check(id)
  if type(id) ~= "string" then return nil, "device id must be a string, got " .. type(id) end
  if #id ~= 36 or not id:find(GUID) then
    return nil, "device id must be a GUID (8-4-4-4-12 hex digits), got " .. M.describe(id)
  end
  return true
end

--- Whether a string is a GUID.
-- @param s any value
-- @treturn boolean
function M.is_guid(s)
  return type(s) == "string" and #s == 36 and s:find(GUID) ~= nil
end

return M
