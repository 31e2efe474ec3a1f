--- Credentials: which sign-in flow the options ask for, checked, as the C core's `auth` table.
-- The core (src/auth.c) acquires, caches and refreshes the tokens; this module only decides and checks.
-- @module autopilot.credentials
local errors = require "autopilot.errors"
local ids = require "autopilot.ids"

local M = {}

local function config_error(message)
  return nil, errors.new { code = "InvalidConfiguration", message = message, kind = "input" }
end

--- Options read from the Azure SDK's environment variables (for `autopilot.connect()` with no table).
-- @treturn table options for `autopilot.connect`
function M.from_environment()
  local opts = {}
  for key, var in pairs { tenant = "AZURE_TENANT_ID", client_id = "AZURE_CLIENT_ID",
                          client_secret = "AZURE_CLIENT_SECRET" } do
    local v = os.getenv(var)
    if v and v ~= "" then opts[key] = v end
  end
  return opts
end

-- Tenant names go into a URL path: a GUID or a domain name, nothing else.
local function check_tenant(tenant)
  if ids.is_guid(tenant) or tenant:find("^[%w][%w%-%.]*[%w]$") then return true end
  return nil, "tenant must be a tenant GUID or a domain name, got " .. ids.describe(tenant)
end

--- The core's `auth` table for the options given to `autopilot.connect`.
-- @tparam table opts the checked options of `autopilot.connect`
-- @tparam table cloud `{ graph = url, login = url }` of the chosen cloud
-- @tparam string login_url the identity platform's base URL (the cloud's, or an override)
-- @treturn[1] table auth (doc/INTERNALS.md, "Client")
-- @return[2] nil
-- @treturn[2] autopilot.Error code "InvalidConfiguration"
function M.resolve(opts, cloud, login_url)
  if opts.access_token then
    if opts.access_token == "" or opts.access_token:find("[%s%c]") then
      return config_error("access_token must be a non-empty token without spaces or control characters")
    end
    return { kind = "token", access_token = opts.access_token }
  elseif opts.client_secret then
    if not opts.tenant then return config_error("client_secret needs tenant (or AZURE_TENANT_ID)") end
    if not opts.client_id then return config_error("client_secret needs client_id (or AZURE_CLIENT_ID)") end
    local ok, terr = check_tenant(opts.tenant)
    if not ok then return config_error(terr) end
    if opts.tenant == "common" or opts.tenant == "organizations" or opts.tenant == "consumers" then
      return config_error("client credentials need a real tenant, not '" .. opts.tenant .. "'")
    end
    return {
      kind = "client_secret", client_id = opts.client_id, client_secret = opts.client_secret,
      token_url = login_url .. "/" .. opts.tenant .. "/oauth2/v2.0/token",
      -- the .default scope names the cloud's own Graph host, even when graph_url points at a proxy or the emulator
      scope = cloud.graph .. "/.default",
    }
  end
  return config_error("no credentials: give access_token, or tenant + client_id + client_secret "
    .. "(or set AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")
end

return M
