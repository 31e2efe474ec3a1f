--- Response shapes of Graph and Intune: headers every response carries, the Graph error
-- envelope, Intune's error message nested as JSON text, and the throttling body.
-- @module autopilot.emulator.envelope
local cjson = require("cjson.safe").new()

local M = {}

M.ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
  .. "charset=utf-8"
M.JSON = "application/json"
M.DIAGNOSTIC = '{"ServerInfo":{"DataCenter":"Emulated","Slice":"E","Ring":"5","ScaleUnit":"000",'
  .. '"RoleInstance":"EMULATOR01"}}'
M.HSTS = "max-age=31536000"
M.FEF = "https://fef.msub01.manage.microsoft.com/DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService"
M.ZERO_GUID = "00000000-0000-0000-0000-000000000000"

--- The headers every Graph response carries.
-- @tparam table ctx the request context (`rid`, `crid`)
-- @tparam[opt] string content_type
-- @treturn table header name -> value
function M.headers(ctx, content_type)
  local h = {
    ["request-id"] = ctx.rid,
    ["client-request-id"] = ctx.crid or ctx.rid,
    ["x-ms-ags-diagnostic"] = M.DIAGNOSTIC,
    ["Strict-Transport-Security"] = M.HSTS,
    ["Cache-Control"] = "no-cache",
  }
  if content_type then
    h["Content-Type"] = content_type
    if content_type == M.ODATA_JSON then h["OData-Version"] = "4.0" end
  end
  return h
end

--- The time as innerError writes it: UTC, no zone suffix.
-- @treturn string e.g. "2026-11-29T19:30:00"
function M.date()
  return os.date("!%Y-%m-%dT%H:%M:%S")
end

--- Intune's error text, which Graph nests as a JSON string in `error.message`.
-- @tparam table ctx the request context (`rid`, `fef_url`)
-- @tparam[opt] string text what went wrong; default "An error has occurred"
-- @tparam[opt] table extra fields that replace the defaults (e.g. `ErrorCode`)
-- @treturn string the nested JSON text, pretty-printed with CRLF as the service does
function M.intune_message(ctx, text, extra)
  local msg = (text or "An error has occurred") .. " - Operation ID (for customer support): " .. M.ZERO_GUID
    .. " - Activity ID: " .. ctx.rid .. " - Url: " .. (ctx.fef_url or M.FEF)
  local parts = {
    '{\r\n  "_version": 3,\r\n',
    '  "Message": ' .. cjson.encode(msg) .. ',\r\n',
  }
  if extra then
    for _, kv in ipairs(extra) do
      parts[#parts + 1] = "  " .. cjson.encode(kv[1]) .. ": " .. cjson.encode(kv[2]) .. ",\r\n"
    end
  end
  parts[#parts + 1] = '  "CustomApiErrorPhrase": "",\r\n  "RetryAfter": null,\r\n  "ErrorSourceService": "",\r\n'
    .. '  "HttpHeaders": "{}"\r\n}'
  return (table.concat(parts):gsub("\\/", "/"))
end

--- A Graph error body.
-- @tparam table ctx the request context (`rid`, `crid`)
-- @tparam string code e.g. "BadRequest"
-- @tparam string message plain text, or Intune's nested JSON text
-- @tparam[opt] table inner extra innerError fields
-- @treturn string JSON text
function M.error_body(ctx, code, message, inner)
  local ie = { date = M.date(), ["request-id"] = ctx.rid, ["client-request-id"] = ctx.crid or ctx.rid }
  if inner then for k, v in pairs(inner) do ie[k] = v end end
  return cjson.encode({ error = { code = code, message = message, innerError = ie } })
end

--- A complete error response.
-- @tparam table ctx the request context
-- @tparam integer status
-- @tparam string code
-- @tparam string message
-- @tparam[opt] table inner extra innerError fields
-- @treturn table resp `{ status, headers, body }`
function M.error(ctx, status, code, message, inner)
  return { status = status, headers = M.headers(ctx, M.JSON), body = M.error_body(ctx, code, message, inner) }
end

--- An error response whose message is Intune's nested JSON.
-- @tparam table ctx
-- @tparam integer status
-- @tparam string code
-- @tparam[opt] string text
-- @tparam[opt] table extra see `intune_message`
-- @treturn table resp
function M.intune_error(ctx, status, code, text, extra)
  return M.error(ctx, status, code, M.intune_message(ctx, text, extra))
end

--- The documented 429 body.
-- @tparam table ctx
-- @treturn string JSON text
function M.throttled_body(ctx)
  return M.error_body(ctx, "TooManyRequests", "Please retry again later.",
    { code = "429", message = "Please retry after", status = "429" })
end

return M
