--- Tokens of the emulated identity platform: access tokens (HS256 JWTs with the claims Graph reads),
-- ID tokens, refresh tokens (opaque, rotated), and Graph's side of it: `authorize`.
-- @module autopilot.emulator.identity.tokens
local cjson = require("cjson.safe").new()
local jwt = require("autopilot.emulator.jwt")
local core = require("autopilot.emulator.identity.core")

local M = {}

M.CACHE_MAX = 1024 -- verified tokens remembered by authorize

-- Graph's texts for a refused token (code InvalidAuthenticationToken, HTTP 401).
M.MESSAGES = {
  empty = "Access token is empty.",
  no_dots = "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE "
    .. "Compact Serialization Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. (JWE): "
    .. "'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext."
    .. "EncodedAuthenticationTag'.",
  malformed = "CompactToken parsing failed with error code: 80049217",
  signature = "Invalid signature",
  expired = "Access token has expired or is not yet valid.",
  audience = "Access token validation failure. Invalid audience.",
  tenant = "Access token validation failure. Invalid issuer.", -- (inferred) another tenant's token
  personal = "Access token validation failure. Personal Microsoft accounts are not supported for this API.",
  revoked = "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: "
    .. "TokenIssuedBeforeRevocationTimestamp",
}

local function issuer(tid)
  return "https://sts.windows.net/" .. tid .. "/"
end

-- uti: 6 bytes of serial number (for revocation) then 10 random bytes, base64url, 22 characters.
local function new_uti(idp)
  idp.serial = idp.serial + 1
  return jwt.b64url(string.pack(">I6", idp.serial) .. core.crypto().random_bytes(10)), idp.serial
end

local function uti_serial(uti)
  local raw = type(uti) == "string" and jwt.unb64url(uti)
  if not raw or #raw ~= 16 then return nil end
  return (string.unpack(">I6", raw))
end

--- Mints an access token.
-- @tparam table idp
-- @tparam number now emulated seconds
-- @tparam table who `{ app = app, user = user|nil, roles = {...}|nil, scopes = {...}|nil, aud = string|nil,
--   appidacr = "0"|"1"|"2" }` (`app` may be a managed identity: `{ client_id, name, oid }`)
-- @treturn string the token
-- @treturn integer its lifetime in seconds
function M.access(idp, now, who)
  local iat = core.epoch(idp, now)
  local life = idp.token_lifetime
  local user = who.user
  local tid = user and user.personal and core.MSA_TENANT or idp.tenant
  local uti = new_uti(idp)
  local claims = {
    aud = who.aud or idp.graph_resource,
    iss = issuer(tid), idp = issuer(tid),
    iat = iat, nbf = iat, exp = iat + life,
    tid = tid, appid = who.app.client_id, app_displayname = who.app.name,
    appidacr = who.appidacr or "0",
    idtyp = user and "user" or "app",
    oid = user and user.oid or who.app.oid,
    sub = user and user.oid or who.app.oid,
    uti = uti, ver = "1.0",
  }
  if user then
    claims.scp = table.concat(who.scopes or {}, " ")
    claims.name = user.name
    claims.amr = { "pwd", "mfa" }
    if user.personal then
      claims.unique_name = "live.com#" .. user.upn
      claims.email = user.upn
    else
      claims.upn, claims.unique_name = user.upn, user.upn
    end
  elseif who.roles and #who.roles > 0 then
    claims.roles = who.roles
  end
  local by = idp.stats
  by.tokens_issued = by.tokens_issued + 1
  return jwt.encode_hs256({ kid = idp.kid, x5t = idp.kid }, claims, idp.key), life
end

--- Mints an ID token for a user (device code with `openid`).
-- @tparam table idp
-- @tparam number now
-- @tparam table app
-- @tparam table user
-- @treturn string
function M.id_token(idp, now, app, user)
  local iat = core.epoch(idp, now)
  local tid = user.personal and core.MSA_TENANT or idp.tenant
  return jwt.encode_hs256({ kid = idp.kid }, {
    aud = app.client_id, iss = "https://login.microsoftonline.com/" .. tid .. "/v2.0",
    iat = iat, nbf = iat, exp = iat + 3600, name = user.name, oid = user.oid, sub = user.oid,
    preferred_username = user.upn, tid = tid, ver = "2.0",
  }, idp.key)
end

--- The `client_info` value MSAL asks for (`client_info=1`).
-- @tparam table idp
-- @tparam table user
-- @treturn string
function M.client_info(idp, user)
  return jwt.b64url(assert(cjson.encode({ uid = user.oid,
    utid = user.personal and core.MSA_TENANT or idp.tenant })))
end

--- Issues a refresh token and remembers its grant (keyed by the token's hash, never the token).
-- @tparam table idp
-- @tparam number now
-- @tparam table grant `{ client_id, upn, scopes = {...}, oidc = {...} }`
-- @treturn string the refresh token
function M.new_refresh(idp, now, grant)
  local token = "1.AQ" .. core.secret(64)
  idp.serial = idp.serial + 1
  local epoch = core.epoch(idp, now)
  idp.refresh[core.hash(token)] = { client_id = grant.client_id, upn = grant.upn, scopes = grant.scopes,
    oidc = grant.oidc, issued = epoch, last_used = epoch, serial = idp.serial }
  return token
end

--- Takes a refresh token out of the live set (it is single-use: rotation).
-- @tparam table idp
-- @tparam number now
-- @tparam string token
-- @tparam string client_id the caller's client id
-- @treturn[1] table the grant
-- @return[2] nil
-- @treturn[2] string an error name of `identity.errors.catalogue`
-- @treturn[2] table|nil its text arguments
function M.take_refresh(idp, now, token, client_id)
  local key = core.hash(token)
  local g = idp.refresh[key]
  if not g or g.client_id ~= client_id:lower() then return nil, "bad_grant" end
  if g.serial <= idp.revoked_upto then
    idp.refresh[key] = nil
    return nil, "grant_revoked"
  end
  local epoch = core.epoch(idp, now)
  if epoch - g.last_used > idp.refresh_token_lifetime then
    idp.refresh[key] = nil
    return nil, "grant_expired", { os.date("!%m/%d/%Y %H:%M:%S", g.issued),
      string.format("%d seconds", epoch - g.last_used) }
  end
  idp.refresh[key] = nil
  return g
end

local function refuse(idp, why)
  local counts = idp.stats.authorize_failures
  counts[why] = (counts[why] or 0) + 1
  return nil, { status = 401, code = "InvalidAuthenticationToken", message = M.MESSAGES[why], reason = why }
end

--- Graph's check of an `Authorization` header.
-- Expiry is strict (no clock-skew grace), so clients meet expiry when the lifetime says so.
-- @tparam table idp
-- @tparam string|nil header the header's value ("Bearer eyJ...")
-- @tparam number now emulated seconds
-- @treturn[1] table the claims (a copy): tid, appid, aud, iss, iat, nbf, exp, oid, idtyp, scp or roles, upn
-- @return[2] nil
-- @treturn[2] table `{ status = 401, code = "InvalidAuthenticationToken", message = <Graph's text>,
--   reason = "empty"|"no_dots"|"malformed"|"signature"|"revoked"|"expired"|"audience"|"personal"|"tenant" }`
function M.authorize(idp, header, now)
  if type(header) ~= "string" then return refuse(idp, "empty") end
  -- plain finds rather than patterns: this runs on every Graph request, over ~1 kB of token
  local sp = header:find(" ", 1, true)
  if sp == 1 then
    header = header:match("^%s*(.*)$")
    sp = header:find(" ", 1, true)
  end
  if not sp or header:sub(1, sp - 1):lower() ~= "bearer" then return refuse(idp, "empty") end
  local token = header:sub(sp + 1)
  if token:find(" ", 1, true) then token = token:match("^ *([^ ]*)") end
  if token == "" then return refuse(idp, "empty") end
  -- Tokens whose signature checked out are remembered (by the token text, in memory only), so the
  -- many requests that reuse one token skip the parsing and the HMAC; every other check runs each time.
  local cache = idp.auth_cache
  local hit = cache[token]
  local c, serial
  if hit then
    c, serial = hit.claims, hit.serial
  else
    local parsed, why = jwt.decode(token)
    if not parsed then return refuse(idp, why == "no dots" and "no_dots" or "malformed") end
    if parsed.header.kid ~= idp.kid or not jwt.verify_hs256(parsed, idp.key) then
      return refuse(idp, "signature")
    end
    c = parsed.claims
    serial = uti_serial(c.uti)
    if idp.auth_cache_n >= M.CACHE_MAX then
      cache = {}
      idp.auth_cache, idp.auth_cache_n = cache, 0
    end
    cache[token] = { claims = c, serial = serial }
    idp.auth_cache_n = idp.auth_cache_n + 1
  end
  if not serial or serial <= idp.revoked_upto then return refuse(idp, "revoked") end
  local epoch = core.epoch(idp, now)
  if math.type(c.exp) == nil or math.type(c.nbf) == nil or epoch >= c.exp or epoch + 300 < c.nbf then
    return refuse(idp, "expired")
  end
  if type(c.aud) ~= "string" or not core.is_graph(idp, c.aud) then return refuse(idp, "audience") end
  if c.tid == core.MSA_TENANT then return refuse(idp, "personal") end
  if c.tid ~= idp.tenant or c.iss ~= issuer(idp.tenant) then return refuse(idp, "tenant") end
  local out = {}
  for k, v in pairs(c) do out[k] = v end
  return out
end

local OIDC_ORDER = { "openid", "profile", "email", "offline_access" }

--- The success reply of a delegated grant (device code, refresh token): an access token, a new refresh
-- token when `offline_access` was granted, an ID token for `openid`, `client_info` when asked.
-- @tparam table idp
-- @tparam number now
-- @tparam table params the decoded form (for `client_info`)
-- @tparam table app
-- @tparam table user
-- @tparam table scopes granted Graph permission names
-- @tparam table oidc set of granted OpenID scopes
-- @tparam string appidacr "0" public client, "1" secret, "2" certificate
-- @treturn table host reply
function M.delegated(idp, now, params, app, user, scopes, oidc, appidacr)
  local at, life = M.access(idp, now, { app = app, user = user, scopes = scopes, appidacr = appidacr })
  local shown = {}
  for _, s in ipairs(scopes) do shown[#shown + 1] = idp.graph_resource .. "/" .. s end
  for _, s in ipairs(OIDC_ORDER) do if oidc[s] then shown[#shown + 1] = s end end
  local body = { token_type = "Bearer", scope = table.concat(shown, " "), expires_in = life,
    ext_expires_in = life, access_token = at }
  if oidc.offline_access then
    body.refresh_token = M.new_refresh(idp, now, { client_id = app.client_id, upn = user.upn, scopes = scopes,
      oidc = oidc })
  end
  if oidc.openid then body.id_token = M.id_token(idp, now, app, user) end
  if params.client_info == "1" then body.client_info = M.client_info(idp, user) end
  return core.json(200, body)
end

M.issuer = issuer
return M
