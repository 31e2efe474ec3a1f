--- How the command line connects: which credentials (environment variables, or the token cache of
-- `autopilot login`), which Graph and login URLs (flags, then AUTOPILOT_GRAPH_URL / AUTOPILOT_LOGIN_URL),
-- and the refusals that keep credentials from going where they should not.
-- @module autopilot.cli.session
local credentials = require "autopilot.credentials"
local clouds = require "autopilot.clouds"
local url = require "autopilot.url"
local args = require "autopilot.cli.args"
local progress = require "autopilot.bulk.progress"

local M = {}

local function env_of(getenv)
  return function(name)
    local v = getenv(name)
    if v and v ~= "" then return v end
    return nil
  end
end

--- The token cache file of `login`: AUTOPILOT_TOKEN_CACHE, else under XDG_CACHE_HOME or ~/.cache.
-- @tparam[opt] function getenv defaults to os.getenv
-- @treturn[1] string the path
-- @treturn[1] string its directory
-- @return[2] nil when no HOME is known either
function M.token_cache_path(getenv)
  local env = env_of(getenv or os.getenv)
  local path = env("AUTOPILOT_TOKEN_CACHE")
  if path then return path, path:match("^(.*)/[^/]*$") or "." end
  local base = env("XDG_CACHE_HOME") or (env("HOME") and (env("HOME") .. "/.cache"))
  if not base then return nil end
  return base .. "/lua-autopilot/tokens.json", base .. "/lua-autopilot"
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- The options of `autopilot.connect` for a command (pure but for reading the environment and whether the
-- token cache exists).
-- Each retry is announced on stderr, above a progress bar (`autopilot.bulk.progress.on_retry`).
-- @tparam table flags parsed flags (`graph_url`, `login_url`, `cloud`, `tenant`, `beta`, `max_retries`)
-- @tparam[opt] table how `{ login = function(info) }` for `autopilot login` (device code sign-in);
--   `getenv` (defaults to os.getenv), `exists` (defaults to a file check)
-- @treturn[1] table options for `autopilot.connect`
-- @return[2] nil
-- @treturn[2] string the message, in the command line's words
-- @treturn[2] integer the exit status (2 for a refused combination, 1 for missing credentials)
function M.options(flags, how)
  how = how or {}
  local getenv = how.getenv or os.getenv
  local env, exists = env_of(getenv), how.exists or file_exists
  local graph_url = flags.graph_url or env("AUTOPILOT_GRAPH_URL")
  local what = flags.graph_url and "--graph-url" or "AUTOPILOT_GRAPH_URL"
  local version = graph_url and url.api_version_in(graph_url)
  if version then
    return nil, what .. " takes the base URL without the API version (e.g. https://graph.microsoft.com), got "
      .. graph_url .. ": drop '/" .. version .. "'" .. (version:lower() == "beta" and " and give --beta" or ""), 2
  end

  local opts
  local token = env("AUTOPILOT_ACCESS_TOKEN")
  if how.login then
    local path = M.token_cache_path(getenv)
    if not path then return nil, "no place for the token cache: set AUTOPILOT_TOKEN_CACHE or HOME", 1 end
    opts = { device_code = how.login, token_cache = path, client_id = env("AZURE_CLIENT_ID") }
  elseif token then
    opts = { access_token = token }
  else
    opts = credentials.from_environment(getenv)
    if not (opts.client_secret or opts.certificate) then
      local path = M.token_cache_path(getenv)
      if not (path and exists(path)) then
        return nil, "no credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
          .. "AZURE_CLIENT_CERTIFICATE_PATH), or AUTOPILOT_ACCESS_TOKEN, or run 'autopilot login'", 1
      end
      -- signed in by `autopilot login`: the cached refresh token, silently
      opts = { token_cache = path, client_id = env("AZURE_CLIENT_ID"), tenant = opts.tenant,
               login_url = opts.login_url, cloud = opts.cloud }
    end
  end
  opts.tenant = flags.tenant or opts.tenant or (not opts.access_token and env("AZURE_TENANT_ID")) or nil
  if opts.access_token then opts.tenant = nil end
  opts.graph_url = graph_url
  opts.login_url = flags.login_url or env("AUTOPILOT_LOGIN_URL") or opts.login_url
  if flags.cloud then opts.cloud = flags.cloud end
  if flags.beta then opts.api_version = "beta" end
  local retries, rerr = args.integer(flags.max_retries, "--max-retries", 0, 100)
  if rerr then return nil, rerr, 2 end
  opts.max_retries = retries
  opts.on_retry = progress.on_retry
  -- a token given as is goes to the Graph named anyway; every other sign-in asks the login host
  if graph_url and not opts.login_url and not opts.access_token and not clouds.is_microsoft_graph(graph_url) then
    return nil, what .. " names a Graph other than Microsoft's: give --login-url (or AUTOPILOT_LOGIN_URL) "
      .. "too, so that credentials are not sent to Microsoft's login host", 2
  end
  return opts
end

return M
