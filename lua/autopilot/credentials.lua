--- Credentials: which sign-in flow the options ask for, checked, as the C core's `auth` table.
-- The core (src/auth.c, src/auth_delegated.c) acquires, caches and refreshes the tokens; this module
-- decides, checks, reads certificate files and wires the refresh-token cache.
--
-- Flows, first match wins: `access_token`; `managed_identity`; `certificate` (client credentials, a
-- client assertion signed in C for every token request); `client_secret`; `device_code` (delegated,
-- interactive), or a refresh token alone (`refresh_token`, or one found in `token_cache`).
-- @module autopilot.credentials
local core = require "autopilot.core"
local errors = require "autopilot.errors"
local ids = require "autopilot.ids"
local token_cache = require "autopilot.token_cache"
local url_mod = require "autopilot.url"

local M = {}

--- Microsoft Graph Command Line Tools, the public client most tenants already consented to; the default
-- `client_id` of the device code flow.
M.DEVICE_CODE_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
M.IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token"
M.DELEGATED_SCOPE = "DeviceManagementServiceConfig.ReadWrite.All"

local OIDC = { openid = true, profile = true, email = true, offline_access = true }
-- login hosts -> cloud names, for AZURE_AUTHORITY_HOST (usgov and dod share a login host: usgov wins)
local AUTHORITY_CLOUDS = {
  { "https://login.microsoftonline.com", "global" }, { "https://login.microsoftonline.us", "usgov" },
  { "https://login.chinacloudapi.cn", "china" },
}

local function config_error(message)
  return nil, errors.new { code = "InvalidConfiguration", message = message, kind = "input" }
end

--- Options read from the Azure SDK's environment variables (for `autopilot.connect()` with no table):
-- AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH (a PEM file with the
-- certificate and its key) with AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_AUTHORITY_HOST (login URL; a known
-- host also picks the cloud).
-- @tparam[opt] function getenv defaults to `os.getenv`
-- @treturn table options for `autopilot.connect`
function M.from_environment(getenv)
  getenv = getenv or os.getenv
  local function env(name)
    local v = getenv(name)
    if v and v ~= "" then return v end
    return nil
  end
  local opts = { tenant = env("AZURE_TENANT_ID"), client_id = env("AZURE_CLIENT_ID"),
                 client_secret = env("AZURE_CLIENT_SECRET") }
  local cert = env("AZURE_CLIENT_CERTIFICATE_PATH")
  if cert and not opts.client_secret then
    opts.certificate = { cert = cert, key = cert, passphrase = env("AZURE_CLIENT_CERTIFICATE_PASSWORD") }
  end
  local authority = env("AZURE_AUTHORITY_HOST")
  if authority then
    authority = authority:gsub("/+$", "")
    if not authority:find("^%a+://") then authority = "https://" .. authority end
    opts.login_url = authority
    for _, c in ipairs(AUTHORITY_CLOUDS) do
      if authority:lower() == c[1] then opts.cloud = c[2] end
    end
  end
  return opts
end

-- Tenant names go into a URL path: a GUID or a domain name, nothing else.
local function check_tenant(tenant)
  if ids.is_guid(tenant) or tenant:find("^[%w][%w%-%.]*[%w]$") then return true end
  return nil, "tenant must be a tenant GUID or a domain name, got " .. ids.describe(tenant)
end

local function real_tenant(opts, flow)
  if not opts.tenant then return nil, flow .. " needs tenant (or AZURE_TENANT_ID)" end
  local ok, terr = check_tenant(opts.tenant)
  if not ok then return nil, terr end
  local t = opts.tenant:lower()
  if t == "common" or t == "organizations" or t == "consumers" then
    return nil, "client credentials need a real tenant, not '" .. opts.tenant .. "'"
  end
  return true
end

-- PEM text is used as is; anything else names a file.
local function pem(value, what)
  if type(value) ~= "string" or value == "" then
    return nil, "certificate." .. what .. " must be a PEM text or a file path"
  end
  if value:find("-----BEGIN", 1, true) then return value end
  local f, err = io.open(value, "rb")
  if not f then
    -- io.open's message starts with the name given, which may be key material (a PFX or key pasted without
    -- its PEM armour): keep only the reason
    local why = tostring(err)
    if why:sub(1, #value + 2) == value .. ": " then why = why:sub(#value + 3) end
    return nil, "certificate." .. what .. ": not PEM text, and cannot read it as a file: " .. why
  end
  local text = f:read("a")
  f:close()
  if not text or not text:find("-----BEGIN", 1, true) then
    return nil, "certificate." .. what .. ": " .. value .. " holds no PEM text (convert a .pfx with "
      .. "`openssl pkcs12 -in cert.pfx -out cert.pem -nodes`)"
  end
  return text
end

local function certificate(opts, token_url, scope)
  local c = opts.certificate
  for k in pairs(c) do
    if k ~= "cert" and k ~= "key" and k ~= "passphrase" and k ~= "alg" then
      error("autopilot.connect: unknown certificate option '" .. tostring(k) .. "'", 4)
    end
  end
  if c.alg ~= nil and c.alg ~= "PS256" and c.alg ~= "RS256" then
    return config_error("certificate.alg must be \"PS256\" or \"RS256\", got " .. ids.describe(tostring(c.alg)))
  end
  if c.passphrase ~= nil and type(c.passphrase) ~= "string" then
    return config_error("certificate.passphrase must be a string")
  end
  local cert, err = pem(c.cert, "cert")
  if not cert then return config_error(err) end
  local key
  if c.key == nil then key = cert else key, err = pem(c.key, "key") end
  if not key then return config_error(err) end
  -- parsed and checked once, here: a bad certificate, key or passphrase is reported by connect, nothing sent;
  -- the session takes the signer over
  local signer, serr = core.signer { cert = cert, key = key, passphrase = c.passphrase, alg = c.alg }
  if not signer then return config_error("certificate: " .. serr) end
  return { kind = "certificate", token_url = token_url, client_id = opts.client_id, signer = signer, scope = scope }
end

local function url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

local function managed_identity(opts, cloud)
  local mi = opts.managed_identity
  if mi == true then mi = {} end
  for k, v in pairs(mi) do
    if k ~= "client_id" and k ~= "endpoint" and k ~= "header" then
      error("autopilot.connect: unknown managed_identity option '" .. tostring(k) .. "'", 4)
    end
    if type(v) ~= "string" then error("autopilot.connect: managed_identity." .. k .. " must be a string", 4) end
  end
  local endpoint, header = mi.endpoint, mi.header
  if not endpoint then
    endpoint, header = os.getenv("IDENTITY_ENDPOINT"), os.getenv("IDENTITY_HEADER")
    if not (endpoint and header and endpoint ~= "" and header ~= "") then endpoint, header = M.IMDS_ENDPOINT, nil end
  end
  local eerr
  endpoint, eerr = url_mod.base("managed_identity.endpoint", endpoint)
  if not endpoint then return config_error(eerr) end
  if header and (header == "" or header:find("%c")) then
    return config_error("managed_identity.header must be a non-empty value without control characters")
  end
  local client_id = mi.client_id
  if client_id and not ids.is_guid(client_id) then
    return config_error("managed_identity.client_id must be the identity's client id (a GUID), got "
      .. ids.describe(client_id))
  end
  -- App Service, Functions, Automation: IDENTITY_ENDPOINT + X-IDENTITY-HEADER; a VM: IMDS + Metadata
  local version = header and "2019-08-01" or "2018-02-01"
  local url = endpoint .. "?api-version=" .. version .. "&resource=" .. url_encode(cloud.graph)
  if client_id then url = url .. "&client_id=" .. url_encode(client_id) end
  return { kind = "managed_identity", token_url = url,
           header = header and ("X-IDENTITY-HEADER: " .. header) or "Metadata: true", scope = cloud.graph }
end

-- The delegated scopes: Graph permissions on the cloud's own Graph host, plus offline_access.
local function delegated_scope(opts, cloud)
  local list = opts.scopes or { M.DELEGATED_SCOPE }
  if type(list) == "string" then
    local words = {}
    for w in list:gmatch("%S+") do words[#words + 1] = w end
    list = words
  end
  local out, seen = {}, {}
  local function add(s)
    if not seen[s:lower()] then seen[s:lower()] = true out[#out + 1] = s end
  end
  for i, s in ipairs(list) do
    if type(s) ~= "string" or s == "" or s:find("[%s%c]") then
      error("autopilot.connect: scopes[" .. i .. "] must be a scope name without spaces", 4)
    end
    if OIDC[s:lower()] or s:find("://", 1, true) then add(s) else add(cloud.graph .. "/" .. s) end
  end
  add("offline_access") -- refresh tokens: silent sign-in later
  return table.concat(out, " ")
end

local function delegated(opts, cloud, login_url)
  local tenant = opts.tenant or "organizations"
  local ok, terr = check_tenant(tenant)
  if not ok then return config_error(terr) end
  local client_id = opts.client_id or M.DEVICE_CODE_CLIENT_ID
  local scope = delegated_scope(opts, cloud)
  local base = login_url .. "/" .. tenant .. "/oauth2/v2.0/"
  local cache, key, refresh_token = nil, nil, opts.refresh_token
  if refresh_token ~= nil and (refresh_token == "" or refresh_token:find("[%s%c]")) then
    return config_error("refresh_token must be a non-empty token without spaces or control characters")
  end
  if opts.token_cache then
    local cerr
    cache, cerr = token_cache.open(opts.token_cache)
    if not cache then
      return nil, errors.new { code = "TokenCacheError", message = cerr, kind = "input" }
    end
    key = token_cache.key(tenant, client_id, scope)
    refresh_token = refresh_token or cache:get(key)
  end
  local dc = opts.device_code
  if not dc and not refresh_token then
    if cache then
      return config_error("no refresh token for this tenant, client and scopes in " .. opts.token_cache
        .. ": sign in once with device_code = true")
    end
    return config_error("delegated sign-in needs device_code = true (or a function), or a refresh_token")
  end
  local auth = { kind = dc and "device_code" or "refresh_token", token_url = base .. "token",
                 devicecode_url = dc and (base .. "devicecode") or nil, client_id = client_id, scope = scope,
                 refresh_token = refresh_token }
  if dc == true then
    auth.on_device_code = function(info) io.stderr:write(info.message, "\n") io.stderr:flush() end
  elseif dc then
    auth.on_device_code = function(info) dc(info) end
  end
  if cache then
    local current = refresh_token
    -- called by the core with each new refresh token, or with false when the service refused ours: then a
    -- newer one stored meanwhile by another process (another run of the script) is tried before a sign-in
    auth.on_refresh_token = function(rt)
      if rt then
        current = rt
        cache:store(key, rt)
        return nil
      end
      local newer = cache:refused(key, current)
      if newer then current = newer end
      return newer
    end
  end
  return auth, cache
end

--- The core's `auth` table for the options given to `autopilot.connect`.
-- @tparam table opts the checked options of `autopilot.connect`
-- @tparam table cloud `{ graph = url, login = url }` of the chosen cloud
-- @tparam string login_url the identity platform's base URL (the cloud's, or an override)
-- @treturn[1] table auth (doc/INTERNALS.md, "Client")
-- @treturn[1] autopilot.TokenCache|nil the refresh-token cache in use (delegated flows with `token_cache`)
-- @return[2] nil
-- @treturn[2] autopilot.Error code "InvalidConfiguration" (or "TokenCacheError" for an unusable cache)
function M.resolve(opts, cloud, login_url)
  if opts.access_token then
    if opts.access_token == "" or opts.access_token:find("[%s%c]") then
      return config_error("access_token must be a non-empty token without spaces or control characters")
    end
    return { kind = "token", access_token = opts.access_token }
  elseif opts.managed_identity then
    return managed_identity(opts, cloud)
  end
  local token_url = opts.tenant and (login_url .. "/" .. opts.tenant .. "/oauth2/v2.0/token")
  -- the .default scope names the cloud's own Graph host, even when graph_url points at a proxy or the emulator
  local scope = cloud.graph .. "/.default"
  if opts.certificate or opts.client_secret then
    local flow = opts.certificate and "certificate" or "client_secret"
    local ok, terr = real_tenant(opts, flow)
    if not ok then return config_error(terr) end
    if not opts.client_id then return config_error(flow .. " needs client_id (or AZURE_CLIENT_ID)") end
    if opts.certificate then return certificate(opts, token_url, scope) end
    return { kind = "client_secret", client_id = opts.client_id, client_secret = opts.client_secret,
             token_url = token_url, scope = scope }
  elseif opts.device_code or opts.refresh_token or opts.token_cache then
    return delegated(opts, cloud, login_url)
  end
  return config_error("no credentials: give access_token, client_secret or certificate (with tenant and "
    .. "client_id), managed_identity, or device_code (or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
    .. "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH)")
end

return M
