--- Error values: the one place where failures become values.
--
-- Every failure the network, the service or the identity platform can cause reaches the caller as
-- `nil, err`, where `err` is an `autopilot.Error`:
--
--  * `status`      HTTP status, or nil for a transport failure or bad input
--  * `code`        Graph's error code, the token endpoint's `error`, curl's error name
--                  (e.g. `"OPERATION_TIMEDOUT"`), or one of ours (`"InvalidDeviceId"`, `"InvalidResponse"`)
--  * `message`     readable text; Intune's nested JSON message is unwrapped
--  * `raw_message` the service's message as it came, when it was unwrapped
--  * `inner_code`  Intune's nested `ErrorCode`, when there is one
--  * `request_id`, `client_request_id`, `retry_after` (seconds), `attempts`
--  * for token endpoint failures: `aadsts` (number), `trace_id`, `correlation_id`, `hint`
--  * `kind`        where it went wrong, for code that branches on it:
--                  `"input"` (rejected before anything was sent: a malformed id, a bad option value),
--                  `"http"` (the service answered with an error status, or an unusable body),
--                  `"transport"` (no answer: connection, TLS, timeout; `code` is curl's error name),
--                  `"auth"` (the token endpoint refused or failed us; nothing was sent to Graph),
--                  `"cancelled"` (the caller stopped it, e.g. a bulk run that stopped, before it was sent again;
--                  `status` is that of its last answer, if it had one)
--
-- `tostring(err)` is one readable line. Errors never carry a token or a secret: bodies from the service are
-- the only text they quote, and those never echo credentials.
-- @module autopilot.errors
local json = require "autopilot.json"

local M = {}

local Error = {}
Error.__index = Error
Error.__name = "autopilot.Error"

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

--- One readable line: status, code, message, request id.
function Error:__tostring()
  local parts = { "autopilot:" }
  if self.status then parts[#parts + 1] = tostring(self.status) end
  if self.code then parts[#parts + 1] = self.code end
  local head = table.concat(parts, " ")
  local line = head .. ": " .. one_line(self.message or "unknown error")
  if self.hint then line = line .. " (" .. self.hint .. ")" end
  local extra = {}
  if self.request_id then extra[#extra + 1] = "request-id " .. self.request_id end
  if self.aadsts then extra[#extra + 1] = "AADSTS" .. self.aadsts end
  if self.trace_id then extra[#extra + 1] = "trace " .. self.trace_id end
  if self.retry_after then extra[#extra + 1] = string.format("retry after %gs", self.retry_after) end
  if self.attempts and self.attempts > 1 then extra[#extra + 1] = self.attempts .. " attempts" end
  if #extra > 0 then line = line .. " [" .. table.concat(extra, ", ") .. "]" end
  return line
end

--- Make an error value.
-- @tparam table fields any of the fields listed in the module description
-- @treturn autopilot.Error
function M.new(fields)
  return setmetatable(fields, Error)
end

--- Whether a value is an `autopilot.Error`.
-- @param v any value
-- @treturn boolean
function M.is_error(v)
  return getmetatable(v) == Error
end

-- What an administrator should do about the common AADSTS codes; the codes come from Entra's documentation.
local AADSTS_HINTS = {
  [7000215] = "the client secret is wrong: use the secret's Value, not its ID, and check it has not expired",
  [7000222] = "the client secret has expired: create a new one in the app registration",
  [700016] = "no application with this client_id in this tenant: check client_id, tenant and cloud",
  [90002] = "the tenant was not found: check the tenant name or ID and the cloud",
  [900023] = "the tenant is not valid: use the tenant GUID or its verified domain",
  [9001023] = "client credentials need a real tenant, not 'common' or 'organizations'",
  [65001] = "the app lacks admin consent for DeviceManagementServiceConfig.ReadWrite.All",
  [500011] = "the resource is not in this tenant's cloud: check `cloud` (global, usgov, dod, china)",
  [70011] = "the scope is not valid: it must be the cloud's Graph host followed by /.default",
  [700027] = "the client assertion's signature did not verify: is the certificate uploaded to the app?",
  [500133] = "the client assertion has expired: check this machine's clock",
  [700024] = "the client assertion is not within its valid time range: check this machine's clock",
  [70000] = "the refresh token is no longer valid: sign in again",
  [700082] = "the refresh token has expired after inactivity: sign in again",
  [50173] = "the refresh token was revoked (password reset or sign-out): sign in again",
  [7000218] = "the app needs a client secret or certificate: give client_secret or certificate",
  [700025] = "this app is a public client: sign in with device_code, without a secret or certificate",
  [700021] = "the client assertion's issuer is not client_id: check client_id",
  [700023] = "the client assertion's audience is not this token endpoint: check tenant, cloud and login_url",
  [50027] = "the client assertion is malformed: check the certificate and key",
  [5002738] = "the client assertion's algorithm is refused: use alg = \"PS256\" or \"RS256\"",
  [900382] = "this app lives in another cloud: check `cloud` (global, usgov, dod, china)",
  [1002012] = "client credentials need the scope <graph host>/.default",
}

-- Hints by the OAuth `error` itself, for errors whose AADSTS number is shared (70000, 70016).
local OAUTH_HINTS = {
  authorization_declined = "the sign-in was declined at the device login page: run again and approve it",
  expired_token = "nobody completed the device code sign-in in time: sign in again and enter the code sooner",
  bad_verification_code = "the device code is not known to the service: sign in again with a new code",
  device_code_callback_failed = "the device_code function raised: fix it, or use device_code = true",
}

local function decode_object(body)
  if type(body) ~= "string" or body == "" then return nil end
  local v = json.decode(body)
  if type(v) == "table" then return v end
  return nil
end

-- Intune puts its own error, JSON-encoded, in error.message: unwrap it, keep the raw text.
local function unwrap_intune(err, message)
  if type(message) ~= "string" or message:sub(1, 1) ~= "{" then
    err.message = message
    return
  end
  local inner = decode_object(message)
  if not inner then
    err.message = message
    return
  end
  err.raw_message = message
  err.inner_code = inner.ErrorCode
  local text = inner.Message
  if type(text) ~= "string" or text == "" then text = inner.ErrorCode end
  err.message = type(text) == "string" and text or message
end

local function from_token_failure(auth, result)
  local err = { status = auth.status, attempts = result.attempts, kind = "auth" }
  if auth.transport then
    err.code = auth.transport.code
    err.message = "token endpoint unreachable: " .. tostring(auth.transport.message)
    return M.new(err)
  end
  -- an error of the client's own making (the device code expired, the callback raised): no reply body
  local body = auth.error and { error = auth.error, error_description = auth.error_description }
    or decode_object(auth.body)
  if body and type(body.error) == "string" then
    err.code = body.error
    local desc = type(body.error_description) == "string" and body.error_description or body.error
    err.message = "token request failed: " .. (desc:match("^([^\r\n]*)") or desc)
    if type(body.error_codes) == "table" and math.type(body.error_codes[1]) then
      err.aadsts = math.tointeger(body.error_codes[1])
    else
      err.aadsts = math.tointeger(tonumber(desc:match("^AADSTS(%d+)") or ""))
    end
    err.trace_id = type(body.trace_id) == "string" and body.trace_id or nil
    err.correlation_id = type(body.correlation_id) == "string" and body.correlation_id or nil
    err.hint = OAUTH_HINTS[body.error] or (err.aadsts and AADSTS_HINTS[err.aadsts]) or nil
  elseif body and type(body.message) == "string" then -- App Service managed identity: { statusCode, message }
    err.code = "ManagedIdentityError"
    err.message = "managed identity endpoint refused the request: " .. body.message
    err.correlation_id = type(body.correlationId) == "string" and body.correlationId or nil
  else
    err.code = "InvalidResponse"
    err.message = string.format("token endpoint answered HTTP %s without an OAuth error body",
      tostring(auth.status))
  end
  return M.new(err)
end

--- Turn a result of the C core (doc/INTERNALS.md) into an error, or nil when it succeeded.
-- @tparam table result a result from `session:request` or `session:poll`
-- @treturn[1] nil the request succeeded (HTTP 2xx)
-- @treturn[2] autopilot.Error what went wrong
function M.from_result(result)
  if result.cancelled then
    return M.new { code = "Cancelled", kind = "cancelled", attempts = result.attempts,
      status = result.status ~= 0 and result.status or nil, retry_after = result.retry_after,
      message = (result.attempts or 0) > 0 and "cancelled before it was sent again" or "cancelled before it was sent" }
  end
  if result.auth then return from_token_failure(result.auth, result) end
  if result.transport then
    return M.new {
      code = result.transport.code, message = result.transport.message, attempts = result.attempts,
      retry_after = result.retry_after, kind = "transport",
    }
  end
  local status = result.status
  if status and status >= 200 and status < 300 then return nil end
  local headers = result.headers or {}
  local err = {
    status = status, attempts = result.attempts, retry_after = result.retry_after, kind = "http",
    request_id = headers["request-id"], client_request_id = headers["client-request-id"],
  }
  local body = decode_object(result.body)
  local e = body and body.error
  if type(e) == "table" then
    err.code = type(e.code) == "string" and e.code or nil
    unwrap_intune(err, e.message)
    local inner = type(e.innerError) == "table" and e.innerError or nil
    if inner then
      err.request_id = err.request_id or inner["request-id"]
      err.date = inner.date
    end
  else
    err.code = "InvalidResponse"
    err.message = string.format("HTTP %s without a Graph error body", tostring(status))
  end
  if not err.message or err.message == "" then err.message = "HTTP " .. tostring(status) end
  return M.new(err)
end

--- An error for a successful reply whose body could not be used.
-- @tparam table result the core result
-- @tparam string why what was wrong with the body
-- @treturn autopilot.Error with code `"InvalidResponse"`
function M.invalid_response(result, why)
  local headers = result.headers or {}
  return M.new {
    status = result.status, code = "InvalidResponse", message = why, attempts = result.attempts,
    request_id = headers["request-id"], kind = "http",
  }
end

-- What to write instead of a `$filter` Intune refused, by what the filter holds.
local FILTER_FORMS = "contains(groupTag,'Kiosk') or startswith(serialNumber,'PF'), joined with and/or, on "
  .. "serialNumber, groupTag, model, displayName or userPrincipalName; for an exact match query by serial, "
  .. "group_tag, model, user or display_name, which the client matches exactly"
-- the operators the service refuses on this collection, whatever the property
local REFUSED_OPERATORS = { eq = true, ne = true, gt = true, ge = true, lt = true, le = true, ["in"] = true,
  has = true, ["not"] = true }

--- Add a hint to the service's 400 for a raw `$filter` it refused: which filter forms work instead.
-- The filter's quoted literals are left out of the search, so `contains(groupTag,'eq')` is not taken for eq.
-- @tparam autopilot.Error err the listing's error (only a 400 gets a hint)
-- @tparam[opt] string filter the raw filter that was sent
-- @treturn autopilot.Error err
function M.add_filter_hint(err, filter)
  if type(filter) ~= "string" or not M.is_error(err) or err.status ~= 400 or err.hint then return err end
  local bare = filter:gsub("'[^']*'", "''"):lower()
  for word in bare:gmatch("%a+") do
    if REFUSED_OPERATORS[word] then
      err.hint = "Intune refuses '" .. word .. "' on Autopilot devices (eq and every comparison, in, has, not): use "
        .. FILTER_FORMS
      return err
    end
  end
  if filter:find("contains%s*%(%s*%w+%s*,%s*'[^']*%-") then
    err.hint = "the service has refused contains() text with a hyphen: use startswith(), or query by serial "
      .. "(the client then scans and matches exactly)"
  else
    err.hint = "Intune accepts only " .. FILTER_FORMS
  end
  return err
end

--- An error for input rejected before anything was sent.
-- @tparam string code e.g. `"InvalidDeviceId"`
-- @tparam string message what is wrong and what was expected
-- @treturn autopilot.Error with `status` nil and `kind` "input"
function M.input(code, message)
  return M.new { code = code, message = message, kind = "input", attempts = 0 }
end

M.Error = Error
return M
