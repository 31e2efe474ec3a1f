--- The emulated Microsoft identity platform (login.microsoftonline.com) of the emulator: the OAuth 2.0
-- v2.0 token and devicecode endpoints, OpenID discovery, managed identity endpoints, and Graph's side of
-- tokens (`authorize`). Pure Lua over `autopilot.emulator.crypto`; the tenant app routes to it.
--
-- Defaults (documented, for rehearsals only; never real credentials):
-- tenant `4a1f7c2e-9b3d-4e8a-8c6f-2d5b7e9a1c30` (`contoso.onmicrosoft.com`),
-- default app `0d9f5a7e-3c2b-4f1a-9e8d-7b6c5a4f3e21` with secret `Emu8Q~local.emulator-secret_not-a-real-one`,
-- application role DeviceManagementServiceConfig.ReadWrite.All, delegated scopes
-- DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementServiceConfig.Read.All and User.Read,
-- public client flows allowed; user `admin@<tenant_domain>`; managed identity header
-- `emulator-identity-header` and system-assigned identity `6f8e2d1c-5b4a-4c3d-9e2f-1a0b9c8d7e6f`.
--
-- Time: `now` is emulated seconds (any origin). Token times are on an emulated wall clock that reads the
-- real time at `new` and then advances with `now`, so a `time_scale` speeds up expiry too.
-- Personal-account tokens (users with `personal = true` sign in through the consumers tenant
-- 9188040d-6c67-4c5b-b112-36a304b66dad) are refused by `authorize` with 401 InvalidAuthenticationToken:
-- Graph validates the token against the resource tenant and a personal account has none there *(inferred)*.
-- @module autopilot.emulator.identity
local cjson = require("cjson.safe").new()
local core = require("autopilot.emulator.identity.core")
local form = require("autopilot.emulator.identity.form")
local tokens = require("autopilot.emulator.identity.tokens")
local client_auth = require("autopilot.emulator.identity.client_auth")
local device_code = require("autopilot.emulator.identity.device_code")
local msi = require("autopilot.emulator.identity.msi")

local M = {}

M.DEFAULT_TENANT = "4a1f7c2e-9b3d-4e8a-8c6f-2d5b7e9a1c30"
M.DEFAULT_DOMAIN = "contoso.onmicrosoft.com"
M.DEFAULT_CLIENT_ID = "0d9f5a7e-3c2b-4f1a-9e8d-7b6c5a4f3e21"
M.DEFAULT_CLIENT_SECRET = "Emu8Q~local.emulator-secret_not-a-real-one"
M.DEFAULT_IDENTITY_HEADER = "emulator-identity-header"
M.DEFAULT_MSI_CLIENT_ID = "6f8e2d1c-5b4a-4c3d-9e2f-1a0b9c8d7e6f"
M.DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
M.WRITE = "DeviceManagementServiceConfig.ReadWrite.All"
M.READ = "DeviceManagementServiceConfig.Read.All"

local function val(x)
  if x == cjson.null then return nil end
  return x
end

local function num(x, what)
  x = val(x)
  if x == nil then return nil end
  local n = tonumber(x)
  if not n or n < 0 then error("identity: " .. what .. " must be a non-negative number", 3) end
  return math.tointeger(n) or n
end

local function strings(list, what)
  list = val(list)
  if list == nil then return nil end
  if type(list) ~= "table" then error("identity: " .. what .. " must be an array of strings", 3) end
  local out = {}
  for i, s in ipairs(list) do
    if type(s) ~= "string" then error("identity: " .. what .. "[" .. i .. "] must be a string", 3) end
    out[i] = s
  end
  return out
end

--- Registers an app (or adds to one already registered with that client id).
-- @tparam table idp
-- @tparam table a `{ client_id, client_secret?, certificate? (PEM), certificates? {PEM...}, roles = {...},
--   delegated_scopes = {...}, public = bool, name? }`
-- @treturn table the app
function M.add_app(idp, a)
  if type(a) ~= "table" or type(val(a.client_id)) ~= "string" or a.client_id == "" then
    error("identity: an app needs a client_id string", 2)
  end
  local id = a.client_id:lower()
  local app = idp.apps[id]
  if not app then
    app = { client_id = id, name = "app " .. id:sub(1, 8), oid = core.guid(idp), certs = {}, roles = {},
      delegated_scopes = {}, public = false }
    idp.apps[id] = app
  end
  if val(a.name) then app.name = tostring(a.name) end
  if val(a.client_secret) then app.client_secret = tostring(a.client_secret) end
  local pems = strings(a.certificates, "certificates") or {}
  if val(a.certificate) then pems[#pems + 1] = a.certificate end
  for _, pem in ipairs(pems) do app.certs[#app.certs + 1] = client_auth.certificate(pem) end
  app.roles = strings(a.roles, "roles") or app.roles
  app.delegated_scopes = strings(a.delegated_scopes, "delegated_scopes") or app.delegated_scopes
  if val(a.public) ~= nil then app.public = a.public and true or false end
  return app
end

--- Registers a user (for delegated sign-in).
-- @tparam table idp
-- @tparam table u `{ upn, scopes = {...}|nil (nil: every scope the app holds), personal = bool, name? }`
-- @treturn table the user
function M.add_user(idp, u)
  if type(u) ~= "table" or type(val(u.upn)) ~= "string" or not u.upn:find("@", 1, true) then
    error("identity: a user needs a upn like name@domain", 2)
  end
  local key = u.upn:lower()
  local user = idp.users[key]
  if not user then
    user = { upn = u.upn, oid = core.guid(idp), name = u.upn:match("^[^@]+") }
    idp.users[key] = user
    idp.user_list[#idp.user_list + 1] = user
  end
  if val(u.name) then user.name = tostring(u.name) end
  user.scopes = strings(u.scopes, "users[].scopes") or user.scopes
  if val(u.personal) ~= nil then user.personal = u.personal and true or nil end
  return user
end

local function add_identity(idp, m)
  local id = type(val(m.client_id)) == "string" and m.client_id:lower()
  if not id then error("identity: a managed identity needs a client_id string", 3) end
  local mi = { client_id = id, name = "managed identity " .. id:sub(1, 8), oid = core.guid(idp),
    roles = strings(m.roles, "managed_identity roles") or { M.WRITE } }
  idp.msi.identities[#idp.msi.identities + 1] = mi
  return mi
end

--- A new identity platform.
-- @tparam[opt] table config keys: tenant, tenant_domain, client_id, client_secret, client_certificate (PEM for
--   the default app), apps, users, token_lifetime (s, 3599), refresh_token_lifetime (s of inactivity, 90 days),
--   clock_skew (s, 300), graph_resource ("https://graph.microsoft.com"; another cloud's Graph host for a
--   national-cloud rehearsal), device_code = { approve_after = n (polls answered authorization_pending before
--   the automatic decision; nil: decide only through configure), decline = bool (the automatic decision is to
--   decline, after approve_after polls or at the first poll), expires_in = 900, interval = 5, user = upn (who
--   signs in), slow_down = n (the next n polls are answered slow_down however well spaced), bad_code =
--   true | user_code (polls answered bad_verification_code: every code's, or that login's) },
--   managed_identity = { header, client_id, roles, user_assigned = { {client_id, roles}, ... } }
-- @tparam table rng a seeded stream with `guid()` and `random(m, n)` or `int(m, n)`
-- @tparam[opt=0] number now emulated seconds
-- @treturn table the idp (state of this module; pass it to the other functions)
function M.new(config, rng, now)
  config = config or {}
  assert(type(rng) == "table" and rng.guid, "identity.new: rng must have guid()")
  local crypto = core.crypto()
  local dc = val(config.device_code) or {}
  local idp = {
    rng = rng,
    tenant = (val(config.tenant) or M.DEFAULT_TENANT):lower(),
    tenant_domain = val(config.tenant_domain) or M.DEFAULT_DOMAIN,
    graph_resource = (val(config.graph_resource) or "https://graph.microsoft.com"):gsub("/+$", ""),
    token_lifetime = num(config.token_lifetime, "token_lifetime") or 3599,
    refresh_token_lifetime = num(config.refresh_token_lifetime, "refresh_token_lifetime") or 90 * 86400,
    clock_skew = num(config.clock_skew, "clock_skew") or 300,
    device = { approve_after = num(dc.approve_after, "device_code.approve_after"), decline = val(dc.decline) and true,
      expires_in = num(dc.expires_in, "device_code.expires_in") or 900,
      interval = num(dc.interval, "device_code.interval") or 5, user = val(dc.user),
      slow_down = device_code.check_slow_down(val(dc.slow_down) or 0),
      bad_code = device_code.check_bad_code(val(dc.bad_code) or false) },
    key = crypto.random_bytes(32),
    kid = core.secret(20),
    epoch0 = os.time(), now0 = now or 0,
    serial = 0, revoked_upto = 0, revocations = 0,
    apps = {}, users = {}, user_list = {}, codes = {}, user_codes = {}, refresh = {}, jtis = {},
    auth_cache = {}, auth_cache_n = 0,
    msi = { identities = {} },
    stats = { tokens_issued = 0, by_grant = {}, by_client_auth = {}, device_codes_issued = 0,
      device_code = { polls = {} }, refresh_tokens_rotated = 0, errors = {}, authorize_failures = {} },
  }
  if not idp.tenant:match("^%x+%-%x+%-%x+%-%x+%-%x+$") then error("identity: tenant must be a GUID", 2) end
  M.add_app(idp, { client_id = val(config.client_id) or M.DEFAULT_CLIENT_ID,
    client_secret = val(config.client_secret) or M.DEFAULT_CLIENT_SECRET, name = "lua-autopilot (emulator)",
    certificate = val(config.client_certificate), roles = { M.WRITE },
    delegated_scopes = { M.WRITE, M.READ, "User.Read" }, public = true })
  idp.default_app = idp.apps[(val(config.client_id) or M.DEFAULT_CLIENT_ID):lower()]
  for _, a in ipairs(val(config.apps) or {}) do M.add_app(idp, a) end
  for _, u in ipairs(val(config.users) or {}) do M.add_user(idp, u) end
  if #idp.user_list == 0 then M.add_user(idp, { upn = "admin@" .. idp.tenant_domain, name = "Emulator Admin" }) end
  local mc = val(config.managed_identity) or {}
  idp.msi.header = val(mc.header) or M.DEFAULT_IDENTITY_HEADER
  idp.msi.system = add_identity(idp, { client_id = val(mc.client_id) or M.DEFAULT_MSI_CLIENT_ID, roles = mc.roles })
  for _, m in ipairs(val(mc.user_assigned) or {}) do add_identity(idp, m) end
  return idp
end

-- Routing ------------------------------------------------------------------------------------------

local function route(target)
  local _, s = form.target(target)
  if #s == 2 and s[1] == "msi" and s[2] == "token" then return "msi" end
  if #s == 4 and s[1] == "metadata" and s[2] == "identity" and s[3] == "oauth2" and s[4] == "token" then
    return "imds"
  end
  if #s == 4 and s[2] == "oauth2" and s[3] == "v2.0" and (s[4] == "token" or s[4] == "devicecode") then
    return s[4], s[1]
  end
  if #s == 4 and s[2] == "v2.0" and s[3] == ".well-known" and s[4] == "openid-configuration" then
    return "openid", s[1]
  end
  if #s == 3 and s[2] == "discovery" and s[3] == "instance" then return "instance", s[1] end
  if #s == 4 and s[2] == "discovery" and s[3] == "v2.0" and s[4] == "keys" then return "keys", s[1] end
  return nil
end

--- Is `target` one of the identity platform's paths?
-- @tparam string target the raw request target
-- @treturn boolean
function M.match(target)
  return route(target) ~= nil
end

local function client_credentials(idp, req, now, seg, kind, params, meta)
  if kind ~= "home" then return core.fail(idp, req, now, "common_tenant", nil, meta) end
  local app, bad = core.requested_app(idp, req, now, params, meta)
  if not app then return bad end
  if not params.scope then return core.fail(idp, req, now, "missing", { "scope" }, meta) end
  local words = form.words(params.scope)
  if #words ~= 1 then return core.fail(idp, req, now, "bad_scope", { params.scope }, meta) end
  local res, name = words[1]:match("^(%a[%w+.-]*://[^/]+)/+(.*)$")
  if not res then res, name = words[1]:match("^(%x+%-[%x%-]+)/+(.*)$") end
  if res and not core.is_graph(idp, res) then
    return core.fail(idp, req, now, "unknown_resource", { res, idp.tenant_domain }, meta)
  end
  if not res or name:lower() ~= ".default" then
    return core.fail(idp, req, now, "not_default_scope", { words[1] }, meta)
  end
  local how, err, args = client_auth.authenticate(idp, req, now, seg, params, app, true)
  if not how then return core.fail(idp, req, now, err, args, meta) end
  local token, life = tokens.access(idp, now, { app = app, roles = app.roles,
    appidacr = how == "secret" and "1" or "2" })
  local st = idp.stats
  st.by_grant.client_credentials = (st.by_grant.client_credentials or 0) + 1
  st.by_client_auth[how] = (st.by_client_auth[how] or 0) + 1
  return core.json(200, { token_type = "Bearer", expires_in = life, ext_expires_in = life, access_token = token })
end

local function refresh_grant(idp, req, now, seg, params, meta)
  local app, bad = core.requested_app(idp, req, now, params, meta)
  if not app then return bad end
  if not params.refresh_token then return core.fail(idp, req, now, "missing", { "refresh_token" }, meta) end
  local parsed, perr, pargs
  if params.scope then
    parsed, perr, pargs = device_code.parse_scopes(idp, params.scope)
    if not parsed then return core.fail(idp, req, now, perr, pargs, meta) end
  end
  local how, err, args = client_auth.authenticate(idp, req, now, seg, params, app, not app.public)
  if not how then return core.fail(idp, req, now, err, args, meta) end
  local g, gerr, gargs = tokens.take_refresh(idp, now, params.refresh_token, app.client_id)
  if not g then return core.fail(idp, req, now, gerr, gargs, meta) end
  local user = idp.users[g.upn]
  if not user then return core.fail(idp, req, now, "bad_grant", nil, meta) end
  local scopes, oidc = g.scopes, { offline_access = true }
  if parsed then
    for k in pairs(parsed.oidc) do oidc[k] = true end
    if #parsed.graph > 0 or parsed.default then
      local s, serr, sargs = device_code.grant(app, user, parsed)
      if not s then return core.fail(idp, req, now, serr, sargs, meta) end
      scopes = s
    end
  end
  local st = idp.stats
  st.refresh_tokens_rotated = st.refresh_tokens_rotated + 1
  st.by_grant.refresh_token = (st.by_grant.refresh_token or 0) + 1
  local acr = how == "secret" and "1" or (how == "none" and "0" or "2")
  return tokens.delegated(idp, now, params, app, user, scopes, oidc, acr)
end

local function token_endpoint(idp, req, now, seg)
  local meta = { endpoint = "token" }
  if req.method ~= "POST" then return core.fail(idp, req, now, "method", { req.method }, meta) end
  local kind = core.tenant_kind(idp, seg)
  if not kind then return core.fail(idp, req, now, "unknown_tenant", { seg }, meta) end
  local params = form.body(req)
  meta.grant, meta.client_id = params.grant_type, params.client_id
  local gt = params.grant_type
  if not gt then return core.fail(idp, req, now, "missing", { "grant_type" }, meta) end
  if gt == "client_credentials" then return client_credentials(idp, req, now, seg, kind, params, meta) end
  if gt == M.DEVICE_GRANT or gt == "device_code" then
    return device_code.poll(idp, req, now, seg, params, meta)
  end
  if gt == "refresh_token" then return refresh_grant(idp, req, now, seg, params, meta) end
  return core.fail(idp, req, now, "grant_type", { gt }, meta)
end

local function openid(idp, req, now, seg)
  local kind = core.tenant_kind(idp, seg)
  if not kind then return core.fail(idp, req, now, "unknown_tenant_doc", { seg }, { endpoint = "openid" }) end
  local base = core.base(req) .. "/" .. seg
  local tid = kind == "home" and idp.tenant or "{tenantid}"
  return core.json(200, {
    issuer = core.base(req) .. "/" .. tid .. "/v2.0",
    authorization_endpoint = base .. "/oauth2/v2.0/authorize",
    token_endpoint = base .. "/oauth2/v2.0/token",
    device_authorization_endpoint = base .. "/oauth2/v2.0/devicecode",
    end_session_endpoint = base .. "/oauth2/v2.0/logout",
    jwks_uri = base .. "/discovery/v2.0/keys",
    token_endpoint_auth_methods_supported = { "client_secret_post", "private_key_jwt", "client_secret_basic" },
    response_modes_supported = { "query", "fragment", "form_post" },
    response_types_supported = { "code", "id_token", "code id_token", "id_token token" },
    subject_types_supported = { "pairwise" },
    id_token_signing_alg_values_supported = { "HS256" },
    scopes_supported = { "openid", "profile", "email", "offline_access" },
    claims_supported = { "sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "preferred_username", "tid",
      "ver" },
    request_uri_parameter_supported = false,
    userinfo_endpoint = idp.graph_resource .. "/oidc/userinfo",
    http_logout_supported = true, frontchannel_logout_supported = true,
    tenant_region_scope = "NA", cloud_instance_name = "microsoftonline.com",
    cloud_graph_host_name = "graph.windows.net", msgraph_host = idp.graph_resource:match("^%a+://(.*)$"),
    rbac_url = "https://pas.windows.net",
  })
end

local function instance(req, q)
  local host = req.headers and req.headers.host or "127.0.0.1"
  local tenant = (q.authorization_endpoint or ""):match("^%a+://[^/]+/([^/]+)/") or "{tenant}"
  return core.json(200, {
    tenant_discovery_endpoint = core.base(req) .. "/" .. tenant .. "/v2.0/.well-known/openid-configuration",
    ["api-version"] = "1.1",
    metadata = { { preferred_network = host, preferred_cache = host, aliases = { host } } },
  })
end

--- Serves one identity-platform request.
-- @tparam table idp from @{new}
-- @tparam table req the host's request `{ method, target, headers (lower-case names), body, scheme? }`
-- @tparam number now emulated seconds
-- @treturn table reply `{ status, headers, body }`: success bodies and error bodies as the service sends
--   them (AADSTS errors for the token and devicecode endpoints; the App Service / IMDS shapes for managed
--   identity); 404 for a path that is not the identity platform's
function M.handle(idp, req, now)
  local what, seg = route(req.target or "")
  if what == "token" then return token_endpoint(idp, req, now, seg) end
  if what == "devicecode" then return device_code.endpoint(idp, req, now, seg) end
  if what == "openid" then return openid(idp, req, now, seg) end
  local _, _, q = form.target(req.target or "")
  if what == "msi" then return msi.app_service(idp, req, now, q) end
  if what == "imds" then return msi.imds(idp, req, now, q) end
  if what == "instance" then return instance(req, q) end
  if what == "keys" then return core.json(200, { keys = {} }) end
  return core.json(404, { error = "not_found", error_description = "No identity endpoint at this path." })
end

--- Graph's check of a request's `Authorization` header.
-- @function authorize
-- @tparam table idp
-- @tparam string|nil header the header's value
-- @tparam number now emulated seconds
-- @treturn[1] table claims: tid, appid, aud, iss, iat, nbf, exp, oid, idtyp ("app"|"user"), scp (delegated,
--   space separated) or roles (app-only, array), upn (users)
-- @return[2] nil
-- @treturn[2] table `{ status = 401, code = "InvalidAuthenticationToken", message = <Graph's text>, reason = ... }`
M.authorize = tokens.authorize

--- The credentials of the default app and the managed identity (for the emulator's banner and specs).
-- @tparam table idp
-- @treturn table `{ tenant, tenant_domain, client_id, client_secret, identity_header, msi_client_id }`
function M.info(idp)
  return { tenant = idp.tenant, tenant_domain = idp.tenant_domain, client_id = idp.default_app.client_id,
    client_secret = idp.default_app.client_secret, identity_header = idp.msi.header,
    msi_client_id = idp.msi.system.client_id }
end

--- Revokes every access and refresh token issued so far (later ones stay valid).
-- @tparam table idp
-- @tparam number now emulated seconds
-- @treturn integer how many tokens (access + refresh) had been issued up to now
function M.revoke(idp, now)
  idp.revoked_upto = idp.serial
  idp.revocations = idp.revocations + 1
  idp.revoked_at = now
  return idp.serial
end

--- Changes the platform at run time. Unknown keys are ignored (the tenant app passes its whole argument).
-- Bad values raise.
-- @tparam table idp
-- @tparam table arg `{ token_lifetime =, refresh_token_lifetime =, device_code = { approve = user_code|true,
--   decline = user_code|true, user = upn, approve_after = n|false, auto_decline = bool, expires_in =,
--   interval =, slow_down = n|false, bad_code = true|user_code|false }, apps = {...}, users = {...}, revoke = true }`
-- @tparam number now emulated seconds
-- @treturn true
function M.configure(idp, arg, now)
  if type(arg) ~= "table" then error("identity.configure: a table expected", 2) end
  idp.token_lifetime = num(arg.token_lifetime, "token_lifetime") or idp.token_lifetime
  idp.refresh_token_lifetime = num(arg.refresh_token_lifetime, "refresh_token_lifetime")
    or idp.refresh_token_lifetime
  local dc = val(arg.device_code)
  if dc then
    if type(dc) ~= "table" then error("identity.configure: device_code must be a table", 2) end
    device_code.configure(idp, dc)
  end
  for _, a in ipairs(val(arg.apps) or {}) do M.add_app(idp, a) end
  for _, u in ipairs(val(arg.users) or {}) do M.add_user(idp, u) end
  if val(arg.revoke) then M.revoke(idp, now) end
  return true
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

--- What a spec may read: counts and records, never a token, code or secret.
-- @tparam table idp
-- @treturn table `{ tokens_issued, by_grant = { client_credentials =, device_code =, refresh_token =,
--   managed_identity =, imds = }, by_client_auth = { secret =, RS256 =, PS256 = }, device_codes_issued,
--   device_code = { polls = { { time, user_code, result, interval }, ... }, pending = n },
--   refresh_tokens_rotated, refresh_tokens_live, revocations, errors = { { time, endpoint, grant, error, code,
--   client_id, trace_id }, ... }, authorize_failures = { reason = n } }`
function M.state(idp)
  local s = copy(idp.stats)
  local live, pending = 0, 0
  for _ in pairs(idp.refresh) do live = live + 1 end
  for _, e in pairs(idp.codes) do if e.state == "pending" then pending = pending + 1 end end
  s.refresh_tokens_live = live
  s.device_code.pending = pending
  s.revocations = idp.revocations
  s.token_lifetime = idp.token_lifetime
  return s
end

return M
