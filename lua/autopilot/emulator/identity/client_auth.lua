--- Client authentication at the emulated token endpoint: client secrets (in the body or HTTP Basic)
-- and client assertions (RFC 7523 JWTs signed with the app's registered certificate, RS256 + `x5t` or
-- PS256 + `x5t#S256`, verified with libcrypto).
-- @module autopilot.emulator.identity.client_auth
local jwt = require("autopilot.emulator.jwt")
local core = require("autopilot.emulator.identity.core")
local form = require("autopilot.emulator.identity.form")

local M = {}

M.JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
M.JTI_KEPT = 10000

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

--- Thumbprints of a PEM certificate, as clients put them in the assertion header.
-- @tparam string pem
-- @treturn table `{ pem =, x5t = b64url(SHA-1(DER)), x5t256 = b64url(SHA-256(DER)) }`
function M.certificate(pem)
  local c = core.crypto()
  local der = assert(c.cert_der(pem), "certificate: not a PEM certificate")
  return { pem = pem, x5t = jwt.b64url(c.sha1(der)), x5t256 = jwt.b64url(c.sha256(der)) }
end

local function strip(s)
  return type(s) == "string" and (s:gsub("=+$", "")) or nil
end

-- The token endpoint URLs a client may have put in `aud` for this request.
local function audience_ok(idp, req, seg, aud)
  if type(aud) ~= "string" then return false end
  aud = aud:lower():gsub("/+$", "")
  local host = (req.headers and req.headers.host or ""):lower()
  local schemes = req.scheme and { req.scheme } or { "http", "https" }
  for _, scheme in ipairs(schemes) do
    for _, t in ipairs({ seg:lower(), idp.tenant, idp.tenant_domain:lower() }) do
      local base = scheme .. "://" .. host .. "/" .. t
      if aud == base .. "/oauth2/v2.0/token" or aud == base .. "/oauth2/token" then return true end
    end
  end
  return false
end

local function prune_jtis(idp, epoch)
  local n = 0
  for k, exp in pairs(idp.jtis) do
    if exp + idp.clock_skew < epoch then idp.jtis[k] = nil else n = n + 1 end
  end
  idp.jti_count = n
end

local function iso(epoch)
  return os.date("!%Y-%m-%dT%H:%M:%S.000Z", math.floor(epoch))
end

--- Verifies a client assertion for `app`.
-- @tparam table idp
-- @tparam table req the request (its Host header makes the expected audience)
-- @tparam number _now emulated seconds (unused: assertions are judged on the real clock)
-- @tparam string seg the `{tenant}` segment of the request path
-- @tparam table app the registered app named by `client_id`
-- @tparam string assertion the compact JWT
-- @treturn[1] string the algorithm ("RS256" or "PS256")
-- @return[2] nil
-- @treturn[2] string an error name of `identity.errors.catalogue`
-- @treturn[2] table|nil its text arguments (never the assertion)
function M.assertion(idp, req, _now, seg, app, assertion)
  local p, why = jwt.decode(assertion)
  if not p then return nil, "assertion_malformed", { why } end
  local alg = p.header.alg
  if alg ~= "RS256" and alg ~= "PS256" then return nil, "assertion_alg", { tostring(alg) } end
  local t256, t1 = strip(p.header["x5t#S256"]), strip(p.header.x5t)
  if not t256 and not t1 then return nil, "assertion_key", { "none: the header has no x5t or x5t#S256" } end
  local used = t256 and jwt.unb64url(t256) or t1 and jwt.unb64url(t1)
  local shown = used and hex(used) or "unreadable"
  local cert
  for _, c in ipairs(app.certs) do
    if (t256 and t256 == c.x5t256) or (not t256 and t1 == c.x5t) then cert = c break end
  end
  if not cert then return nil, "assertion_key", { shown } end
  local ok = core.crypto().verify(cert.pem, alg, p.signing_input, p.signature)
  if not ok then return nil, "assertion_signature", { shown } end
  local c = p.claims
  if type(c.iss) ~= "string" or type(c.sub) ~= "string" or c.iss:lower() ~= app.client_id
      or c.sub:lower() ~= app.client_id then
    return nil, "assertion_issuer"
  end
  if not audience_ok(idp, req, seg, c.aud) then return nil, "assertion_audience" end
  -- The client signs on the real clock, so its assertion is judged on the real clock (with the service's
  -- 5-minute skew), not on the emulated one that `time_scale` and `advance` move ahead.
  local epoch = os.time()
  if math.type(c.exp) == nil then return nil, "assertion_malformed", { "the exp claim is missing" } end
  if c.nbf ~= nil and math.type(c.nbf) == nil then return nil, "assertion_malformed", { "bad nbf claim" } end
  if epoch > c.exp + idp.clock_skew or (c.nbf and c.nbf > epoch + idp.clock_skew) then
    return nil, "assertion_time", { iso(epoch), iso(c.exp) }
  end
  if type(c.jti) ~= "string" or c.jti == "" then return nil, "assertion_malformed", { "the jti claim is missing" } end
  local key = app.client_id .. "\0" .. c.jti
  if idp.jtis[key] then return nil, "assertion_replay" end
  idp.jtis[key] = c.exp
  idp.jti_count = (idp.jti_count or 0) + 1
  if idp.jti_count > M.JTI_KEPT then prune_jtis(idp, epoch) end
  return alg
end

local function basic(req)
  local h = req.headers and req.headers.authorization
  local b64 = type(h) == "string" and h:match("^%s*[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
  if not b64 then return nil end
  local raw = jwt.unb64url((b64:gsub("%+", "-"):gsub("/", "_")))
  local id, secret = (raw or ""):match("^([^:]*):(.*)$")
  if not id then return nil end
  return form.decode(id), form.decode(secret)
end

--- Authenticates the client of a token request.
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam string seg the `{tenant}` path segment
-- @tparam table params the decoded form
-- @tparam table app the app named by `client_id`
-- @tparam boolean required a confidential credential is required (client credentials, or an app
--   without public client flows)
-- @treturn[1] string how: "secret", "RS256", "PS256" or "none" (a public client)
-- @return[2] nil
-- @treturn[2] string an error name
-- @treturn[2] table|nil its text arguments
function M.authenticate(idp, req, now, seg, params, app, required)
  local secret = params.client_secret
  if not secret then
    local bid, bsecret = basic(req)
    if bid and bid:lower() == app.client_id then secret = bsecret end
  end
  local assertion = params.client_assertion
  local confidential = app.client_secret ~= nil or #app.certs > 0
  if (secret or assertion) and not confidential then return nil, "public_with_credential" end
  if assertion then
    if params.client_assertion_type == nil then return nil, "missing", { "client_assertion_type" } end
    if params.client_assertion_type ~= M.JWT_BEARER then
      return nil, "assertion_type", { tostring(params.client_assertion_type) }
    end
    return M.assertion(idp, req, now, seg, app, assertion)
  end
  if secret then
    if app.client_secret and jwt.equal(secret, app.client_secret) then return "secret" end
    return nil, "bad_secret", { app.client_id }
  end
  if required or not app.public then return nil, "no_credential" end
  return "none"
end

return M
