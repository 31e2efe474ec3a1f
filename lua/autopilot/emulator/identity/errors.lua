--- Error replies of the emulated identity platform, in the shape the service documents:
-- `{ error, error_description = "AADSTSnnnnn: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...",
-- error_codes = { n }, timestamp, trace_id, correlation_id, error_uri }`.
-- Texts follow Microsoft's error-code reference and replies users have posted; where no source gives
-- the text it is marked *(inferred)*. No text ever includes a secret, an assertion or a token.
-- @module autopilot.emulator.identity.errors
local cjson = require("cjson.safe").new()

local M = {}

--- The catalogue: name -> { error, code, status, text }. `text` may hold `%s` holes that
-- @{reply} fills from its `args`.
M.catalogue = {
  method = { "invalid_request", 900561, 400, "The endpoint only accepts POST requests. Received a %s request." },
  missing = { "invalid_request", 900144, 400, "The request body must contain the following parameter: '%s'." },
  unknown_tenant = { "invalid_request", 90002, 400, "Tenant '%s' not found. Check to make sure you have the "
    .. "correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, "
    .. "this may happen if there are no active subscriptions for the tenant." },
  unknown_tenant_doc = { "invalid_tenant", 90002, 400, "Tenant '%s' not found. Check to make sure you have the "
    .. "correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, "
    .. "this may happen if there are no active subscriptions for the tenant." },
  common_tenant = { "invalid_request", 9001023, 400, "The grant type is not supported over the /common or "
    .. "/consumers endpoints. Please use the /organizations or tenant-specific endpoint." },
  unknown_app = { "unauthorized_client", 700016, 400, "Application with identifier '%s' was not found in the "
    .. "directory '%s'. This can happen if the application has not been installed by the administrator of the "
    .. "tenant or consented to by any user in the tenant. You may have sent your authentication request to the "
    .. "wrong tenant." },
  bad_secret = { "invalid_client", 7000215, 401, "Invalid client secret provided. Ensure the secret being sent "
    .. "in the request is the client secret value, not the client secret ID, for a secret added to app '%s'." },
  no_credential = { "invalid_client", 7000218, 401, "The request body must contain the following parameter: "
    .. "'client_assertion' or 'client_secret'." },
  public_with_credential = { "invalid_client", 700025, 401, "Client is public so neither 'client_assertion' "
    .. "nor 'client_secret' should be presented." },
  grant_type = { "unsupported_grant_type", 70003, 400, "The app requested an unsupported grant type '%s'." },
  bad_scope = { "invalid_scope", 70011, 400, "The provided value for the input parameter 'scope' is not valid. "
    .. "The scope '%s' is not valid." },
  not_default_scope = { "invalid_scope", 1002012, 400, "The provided value for scope %s is not valid. Client "
    .. "credential flows must have a scope value with /.default suffixed to the resource identifier "
    .. "(application ID URI)." },
  unknown_resource = { "invalid_resource", 500011, 400, "The resource principal named %s was not found in the "
    .. "tenant named %s. This can happen if the application has not been installed by the administrator of the "
    .. "tenant or consented to by any user in the tenant. You might have sent your authentication request to "
    .. "the wrong tenant." },
  consent = { "invalid_grant", 65001, 400, "The user or administrator has not consented to use the application "
    .. "with ID '%s' named '%s'. Send an interactive authorization request for this user and resource." },
  -- client assertions
  assertion_type = { "invalid_request", 700008, 400, "The client_assertion_type '%s' is not supported; "
    .. "use 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'." }, -- (inferred)
  assertion_malformed = { "invalid_client", 50027, 401, "JWT token is invalid or malformed. [Reason - %s]" },
  assertion_alg = { "invalid_client", 5002738, 401, "Invalid JWT token. '%s' is not a supported signature "
    .. "algorithm. Supported signing algorithms are: 'RS256, PS256'." },
  assertion_key = { "invalid_client", 700027, 401, "The certificate with identifier used to sign the client "
    .. "assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used "
    .. "by client: '%s']" },
  assertion_signature = { "invalid_client", 700027, 401, "Client assertion failed signature validation. "
    .. "[Reason - The provided signature value did not match the expected signature value., Thumbprint of key "
    .. "used by client: '%s']" },
  assertion_issuer = { "invalid_client", 700021, 401, "Client assertion application identifier doesn't match "
    .. "'client_id' parameter. Review the documentation at "
    .. "https://learn.microsoft.com/entra/identity-platform/certificate-credentials ." },
  assertion_audience = { "invalid_client", 700023, 401, "Client assertion audience claim does not match Realm "
    .. "issuer. Review the documentation at "
    .. "https://learn.microsoft.com/entra/identity-platform/certificate-credentials ." },
  assertion_time = { "invalid_client", 500133, 401, "Assertion is not within its valid time range. Ensure that "
    .. "the access token is not expired before using it for user assertion, or request a new token. Current "
    .. "time: %s, expiry time of assertion %s." },
  assertion_replay = { "invalid_client", 50013, 401, "Assertion is invalid: its jti has already been used. "
    .. "Each client assertion must carry a fresh jti." }, -- (inferred)
  -- device code
  pending = { "authorization_pending", 70016, 400, "OAuth 2.0 device flow error. Authorization is pending. "
    .. "Continue polling." },
  slow_down = { "slow_down", 70016, 400, "OAuth 2.0 device flow error. Polling too frequently: wait at least "
    .. "%s seconds between polls." }, -- (inferred)
  declined = { "authorization_declined", 70000, 400, "The user declined the authorization request." }, -- (inferred)
  code_expired = { "expired_token", 70019, 400, "Verification code expired." },
  bad_code = { "bad_verification_code", 70018, 400, "Invalid verification code: the device_code is not known "
    .. "or was issued to another application." },
  code_redeemed = { "invalid_grant", 54005, 400, "OAuth2 Authorization code was already redeemed, please retry "
    .. "with a new valid code or use an existing refresh token." },
  -- refresh tokens
  bad_grant = { "invalid_grant", 70000, 400, "Provided grant is invalid or malformed." },
  grant_expired = { "invalid_grant", 700082, 400, "The refresh token has expired due to inactivity. The token "
    .. "was issued on %s and was inactive for %s." },
  grant_revoked = { "invalid_grant", 50173, 400, "The provided grant has expired due to it being revoked, a "
    .. "fresh auth token is needed. The user might have changed or reset their password." },
}

--- The service's timestamp form, "2016-01-09 02:02:12Z".
-- @tparam number epoch seconds since 1970
-- @treturn string
function M.timestamp(epoch)
  return os.date("!%Y-%m-%d %H:%M:%SZ", math.floor(epoch))
end

local function guid_shape(s)
  return type(s) == "string" and s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$")
end

--- Builds an error reply.
-- @tparam string name a key of @{catalogue}
-- @tparam table ctx `{ guid = function() -> string, epoch = number, req = request table|nil }`
-- @tparam[opt] table args values for the text's `%s` holes (never a secret)
-- @treturn table a host reply `{ status, headers, body }`
-- @treturn table the decoded body (for the caller's records)
function M.reply(name, ctx, args)
  local e = assert(M.catalogue[name], name)
  local text = e[4]
  if args then text = string.format(text, table.unpack(args)) end
  local trace = ctx.guid()
  local cid = ctx.req and ctx.req.headers and ctx.req.headers["client-request-id"]
  if not guid_shape(cid) then cid = ctx.guid() end
  local ts = M.timestamp(ctx.epoch)
  local body = {
    error = e[1],
    error_description = string.format("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
      e[2], text, trace, cid, ts),
    error_codes = { e[2] },
    timestamp = ts,
    trace_id = trace,
    correlation_id = cid,
    error_uri = "https://login.microsoftonline.com/error?code=" .. e[2],
  }
  return {
    status = e[3],
    headers = {
      ["Content-Type"] = "application/json; charset=utf-8",
      ["Cache-Control"] = "no-store, no-cache",
      ["Pragma"] = "no-cache",
      ["x-ms-request-id"] = trace,
      ["client-request-id"] = cid,
    },
    body = cjson.encode(body),
  }, body
end

M.guid_shape = guid_shape

return M
