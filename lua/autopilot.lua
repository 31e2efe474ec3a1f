--- lua-autopilot: take the assigned user off Windows Autopilot devices through Microsoft Graph.
--
--     local autopilot = require "autopilot"
--     local client = assert(autopilot.connect{ tenant = "contoso.onmicrosoft.com",
--                                              client_id = "...", client_secret = "..." })
--     local ok, err = client:unassign_user("5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f")
--
-- Failures caused by the network, the service or the identity platform are returned as `nil, err`
-- (see `autopilot.errors` for the shape); wrong argument types and unknown options raise at once,
-- before any request is sent.
-- @module autopilot
local core = require "autopilot.core"
local errors = require "autopilot.errors"
local ids = require "autopilot.ids"
local clouds = require "autopilot.clouds"
local odata = require "autopilot.odata"
local credentials = require "autopilot.credentials"
local checks = require "autopilot.checks"
local url_mod = require "autopilot.url"
local json = require "autopilot.json"
local repl = require "autopilot.repl"
local waiting = require "autopilot.waiting"

local M = {
  _VERSION = "lua-autopilot " .. core._VERSION,
  errors = errors,
}

local COLLECTION = "/deviceManagement/windowsAutopilotDeviceIdentities"

-- option name -> accepted Lua types (a set); anything else raises, naming the option
local OPTIONS = {
  tenant = { string = true }, client_id = { string = true }, client_secret = { string = true },
  access_token = { string = true }, cloud = { string = true }, graph_url = { string = true },
  login_url = { string = true }, api_version = { string = true }, ca_file = { string = true },
  ca_path = { string = true }, timeout = { number = true }, connect_timeout = { number = true },
  stall_timeout = { number = true }, max_retries = { number = true }, max_retry_wait = { number = true },
  concurrency = { number = true }, limit = { table = true, boolean = true },
  insecure_skip_tls_verify = { boolean = true },
  -- issue 9: bounds on what a hostile or broken server can make a call do
  max_response_bytes = { number = true }, max_header_bytes = { number = true }, max_pages = { number = true },
  on_retry = { ["function"] = true },
  -- issue 11: yield to the host's event loop instead of blocking
  async = { boolean = true },
  -- issue 4: every way to sign in
  certificate = { table = true }, device_code = { boolean = true, ["function"] = true },
  refresh_token = { string = true }, token_cache = { string = true },
  managed_identity = { boolean = true, table = true }, scopes = { table = true, string = true },
}

local function check_options(opts)
  for k, v in pairs(opts) do
    local accepted = OPTIONS[k]
    if not accepted then error("autopilot.connect: unknown option '" .. tostring(k) .. "'", 3) end
    if not accepted[type(v)] then
      local names = {}
      for t in pairs(accepted) do names[#names + 1] = t end
      table.sort(names)
      error(string.format("autopilot.connect: option '%s' must be a %s, got %s", k,
        table.concat(names, " or "), type(v)), 3)
    end
  end
  local v = opts.max_retries
  if v ~= nil and (math.type(v) ~= "integer" or v < 0) then
    error("autopilot.connect: option 'max_retries' must be a non-negative integer", 3)
  end
  checks.concurrency(opts.concurrency, "autopilot.connect", 3)
  if opts.limit == true then error("autopilot.connect: option 'limit' must be a table or false", 3) end
  checks.limit(opts.limit, "autopilot.connect", 3)
end

local function config_error(message)
  return nil, errors.new { code = "InvalidConfiguration", message = message, kind = "input" }
end

-- connect() with no table: the Azure SDK's variables, and AUTOPILOT_GRAPH_URL / AUTOPILOT_LOGIN_URL to point
-- it at another Graph (the emulator, a proxy). Such a Graph with no login URL is refused: the app's
-- credentials would otherwise go to Microsoft's login host for a tenant that is not there.
local function environment_options()
  local opts = credentials.from_environment()
  local graph, login = os.getenv("AUTOPILOT_GRAPH_URL"), os.getenv("AUTOPILOT_LOGIN_URL")
  if graph and graph ~= "" then opts.graph_url = graph end
  if login and login ~= "" then opts.login_url = login end
  if opts.graph_url and not opts.login_url and not clouds.is_microsoft_graph(opts.graph_url) then
    return nil, "AUTOPILOT_GRAPH_URL names a Graph other than Microsoft's: set AUTOPILOT_LOGIN_URL too "
      .. "(the emulator serves both on one URL)"
  end
  return opts
end

--- Pages one listing follows at most is an option of this module alone (the core's options are checked
-- where they are read, in C).
-- @tparam table opts connect's options (types already checked)
-- @treturn string|nil the message, worded as the core words its own range errors
local function max_pages_error(opts)
  local v = opts.max_pages
  if v == nil or (math.tointeger(v) and v >= 1 and v <= 2 ^ 31) then return nil end
  return string.format("option 'max_pages' must be an integer between 1 and 2147483648 (got %s)",
    math.tointeger(v) and string.format("%d", v) or string.format("%g", v))
end

-- The core checks its options where it reads them and raises naming the option and its range; connect
-- answers those as configuration errors, as it does every other bad value.
local function new_session(o)
  local ok, session = pcall(core.session, o)
  if ok then return session end
  local msg = tostring(session)
  if msg:find("^option '") or msg:find("^limit%.") then return nil, msg end
  error(session, 0)
end

-- Credentials that would reach C as header or form text: empty or control characters are refused here,
-- naming the field, never quoting it (it may be a secret).
local function credential_error(auth)
  for _, k in ipairs { "client_id", "client_secret", "refresh_token" } do
    local v = auth[k]
    if v == "" then return k .. " must not be empty" end
    if type(v) == "string" and v:find("%c") then return k .. " must not contain control characters" end
  end
  return nil
end

--- Pages one listing follows at most unless `max_pages` says otherwise: 100,000 pages of up to 1,000
-- devices is far above any real tenant, and ends a listing that a broken service never lets finish.
M.MAX_PAGES = 100000
--- Pages in a row a listing follows without a new device before it stops with an error.
M.MAX_IDLE_PAGES = 5
--- Longest `@odata.nextLink` followed (bytes); a real one is a few hundred.
M.MAX_LINK_BYTES = 65536

local Client = {}
Client.__index = Client
Client.__name = "autopilot.Client"

--- Connect: check the options and prepare a session. No request is sent until the first call.
-- With no argument, reads AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH
-- (+ AZURE_CLIENT_CERTIFICATE_PASSWORD), AZURE_AUTHORITY_HOST, and AUTOPILOT_GRAPH_URL with AUTOPILOT_LOGIN_URL
-- (another Graph, e.g. the emulator; a Graph URL that is not Microsoft's without a login URL is refused).
--
-- Sign-in (first match wins): `access_token`; `managed_identity = true | { client_id =, endpoint =, header = }`
-- (IDENTITY_ENDPOINT + IDENTITY_HEADER from the environment, else IMDS); `certificate = { cert =, key =,
-- passphrase =, alg = "PS256" | "RS256" }` (PEM text or file paths) with `tenant` and `client_id`;
-- `client_secret` with `tenant` and `client_id`; `device_code = true` (prints Microsoft's message to stderr)
-- or `device_code = function(info)` (`info.user_code`, `verification_uri`, `message`, `expires_in`), with
-- optional `tenant` ("organizations" by default), `client_id`, `scopes`, `refresh_token`, and
-- `token_cache = path` (refresh tokens kept per tenant, client and scopes, so the next run signs in silently).
-- @tparam[opt] table opts `tenant`, `client_id`, `client_secret` or `access_token`; `cloud` ("global",
--   "usgov", "dod", "china"), `graph_url`, `login_url` (overrides, e.g. the emulator), `api_version` ("v1.0" or
--   "beta"), `ca_file`, `ca_path`, `timeout` (seconds, whole request), `connect_timeout`, `stall_timeout`,
--   `max_retries`, `max_retry_wait` (seconds spent waiting in all), `concurrency`, `limit` (`{ writes = n,
--   seconds = s }` or false), `insecure_skip_tls_verify` (tests only); bounds on what a server can make a
--   call do: `max_response_bytes` (after decoding, default 64 MiB), `max_header_bytes` (default 256 KiB),
--   `max_pages` (pages one listing follows, default `MAX_PAGES`); `on_retry = function(event)`, called
--   while a call waits to retry, with `event.reason` ("connection refused", "HTTP 429 (throttled)", ...),
--   `retry` (1-based), `of` (max_retries), `wait` (seconds), `code` (curl's name) or `status`, `token`
--   (true for a token request) and `tag`; what it raises is ignored. Numbers out of range give
--   "InvalidConfiguration" naming the option and its range. `async = true`: a call that would wait,
--   made inside a coroutine, yields the client to the host's loop instead of blocking (see "Embedding"
--   in README.md, `Client:pollfd`, `autopilot.async`, `autopilot.luv`, `autopilot.cqueues`); from the main
--   thread it blocks as without it.
-- @treturn[1] autopilot.Client
-- @return[2] nil
-- @treturn[2] autopilot.Error code "InvalidConfiguration" when credentials or URLs are missing or malformed
--   (an unreadable certificate, a wrong passphrase, an empty or control-character client_id or secret), or a
--   number is out of range (the message names the option and its range); "TokenCacheError" for a token
--   cache that cannot be used
function M.connect(opts)
  if opts == nil then
    local eerr
    opts, eerr = environment_options()
    if not opts then return config_error(eerr) end
  elseif type(opts) ~= "table" then
    error("autopilot.connect: options must be a table, got " .. type(opts), 2)
  end
  check_options(opts)
  local range_err = max_pages_error(opts)
  if range_err then return config_error(range_err) end
  local cloud_name = opts.cloud or "global"
  local cloud, cerr = clouds.lookup(cloud_name)
  if not cloud then return config_error(cerr) end
  local api_version = opts.api_version or "v1.0"
  if api_version ~= "v1.0" and api_version ~= "beta" then
    return config_error("api_version must be \"v1.0\" or \"beta\", got " .. ids.describe(api_version))
  end
  local graph_url, gerr = url_mod.graph_base(opts.graph_url or cloud.graph)
  if not graph_url then return config_error(gerr) end
  local login_url, lerr = url_mod.base("login_url", opts.login_url or cloud.login)
  if not login_url then return config_error(lerr) end

  local auth, cache_or_err = credentials.resolve(opts, cloud, login_url)
  if not auth then return nil, cache_or_err end
  local cred_err = credential_error(auth)
  if cred_err then return config_error(cred_err) end

  local limit = opts.limit
  local session, serr = new_session {
    user_agent = "lua-autopilot/" .. core._VERSION .. " libcurl/" .. core.curl_version,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout, stall_timeout = opts.stall_timeout,
    ca_file = opts.ca_file, ca_path = opts.ca_path,
    insecure_skip_tls_verify = opts.insecure_skip_tls_verify or false,
    max_retries = opts.max_retries, max_retry_wait = opts.max_retry_wait,
    concurrency = opts.concurrency, limit = limit or nil,
    max_response_bytes = opts.max_response_bytes, max_header_bytes = opts.max_header_bytes,
    on_retry = opts.on_retry,
    auth = auth,
  }
  if not session then return config_error(serr) end
  return setmetatable({
    _session = session, graph_url = graph_url, login_url = login_url, api_version = api_version,
    cloud = opts.cloud or (opts.graph_url and "custom" or "global"),
    tenant = opts.tenant or (auth.devicecode_url and "organizations") or nil,
    client_id = auth.client_id or opts.client_id, flow = auth.kind, _token_cache = cache_or_err,
    -- what a bulk run puts back on the session when it ends (the core's default concurrency is 8)
    _pacing = { concurrency = opts.concurrency or 8, limit = limit or false },
    _max_pages = math.tointeger(opts.max_pages) or M.MAX_PAGES,
    _async = opts.async == true, _close_hooks = {},
  }, Client)
end

--- The absolute URL of a Graph path under this client's API version.
-- @tparam string path starting with "/"
-- @treturn string
function Client:_url(path)
  return url_mod.join(self.graph_url, self.api_version, path)
end

local function check_id(id, what)
  if type(id) ~= "string" then
    error((what or "device id") .. " must be a string, got " .. type(id), 3)
  end
  local ok, why = ids.check(id)
  if not ok then return nil, errors.input("InvalidDeviceId", why) end
  return true
end

local function device_path(id, via_profile)
  if via_profile then
    return COLLECTION .. "/" .. id .. "/deploymentProfile/assignedDevices/" .. id
  end
  return COLLECTION .. "/" .. id
end

local function check_opts(opts, allowed, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(fname .. ": options must be a table, got " .. type(opts), 3) end
  for k, v in pairs(opts) do
    local t = allowed[k]
    if not t then error(fname .. ": unknown option '" .. tostring(k) .. "'", 3) end
    if type(v) ~= t then error(fname .. ": option '" .. k .. "' must be a " .. t .. ", got " .. type(v), 3) end
  end
  return opts
end

--- The request table for an action on one device, for `_session:submit` (used by the bulk runner).
-- @tparam string id a checked device id
-- @tparam string action e.g. "unassignUserFromDevice"
-- @tparam[opt] table body encoded as JSON; nil sends no body
-- @tparam[opt] table opts `via_profile` (beta's second path)
-- @treturn table request
function Client:_action_request(id, action, body, opts)
  local req = {
    method = "POST", url = self:_url(device_path(id, opts and opts.via_profile) .. "/" .. action),
    idempotent = true,
  }
  if body then
    req.body = json.encode(body)
    req.headers = { ["Content-Type"] = "application/json" }
  end
  return req
end

local function ensure_open(self)
  if not self._session then error("autopilot.Client is closed", 3) end
end

-- Send one request and return the core's result, or nil and the error value.
local function send(self, req)
  ensure_open(self)
  local result, cerr = waiting.request(self, req)
  if not result then return nil, cerr end
  local err = errors.from_result(result)
  if err then return nil, err end
  return result
end

local function decode_body(result)
  if result.status == 204 or result.body == nil or result.body == "" then return true end
  local v = json.decode(result.body)
  if type(v) ~= "table" then return nil, errors.invalid_response(result, "the reply is not valid JSON") end
  return v
end

local Device = {}
Device.__name = "autopilot.Device"
Device.__index = Device

--- One line for the REPL: id, serial, user, group tag.
function Device.__tostring(d)
  local user = d.userPrincipalName
  return string.format("autopilot.Device %s serial=%q user=%s groupTag=%q", tostring(d.id),
    tostring(d.serialNumber or ""), (user and user ~= "") and user or "(none)", tostring(d.groupTag or ""))
end

--- Mark a plain device table so that it prints readably; fields stay Graph's camelCase names.
-- @tparam table d
-- @treturn table d
function M.device_value(d)
  if type(d) == "table" and getmetatable(d) == nil then setmetatable(d, Device) end
  return d
end

--- Take the assigned user off a device (`POST .../{id}/unassignUserFromDevice`, 204 on success).
-- @tparam string id the device's Autopilot id (a GUID)
-- @tparam[opt] table opts `via_profile = true` for beta's path through deploymentProfile/assignedDevices
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error (`code` "InvalidDeviceId" with nothing sent for a malformed id)
function Client:unassign_user(id, opts)
  opts = check_opts(opts, { via_profile = "boolean" }, "unassign_user")
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local _, serr = send(self, self:_action_request(id, "unassignUserFromDevice", nil, opts))
  if serr then return nil, serr end
  return true
end

--- Assign a user to a device (`assignUserToDevice`).
-- @tparam string id device id
-- @tparam string upn the user's principal name
-- @tparam[opt] string addressable_name the name shown at sign-in (defaults to the UPN)
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error
function Client:assign_user(id, upn, addressable_name)
  if type(upn) ~= "string" then error("assign_user: upn must be a string, got " .. type(upn), 2) end
  if addressable_name ~= nil and type(addressable_name) ~= "string" then
    error("assign_user: addressable_name must be a string, got " .. type(addressable_name), 2)
  end
  local ok, err = check_id(id)
  if not ok then return nil, err end
  if upn == "" or upn:find("[%s%c]") then
    return nil, errors.input("InvalidUserPrincipalName", "upn must be a user principal name, got " .. ids.describe(upn))
  end
  local body = { userPrincipalName = upn, addressableUserName = addressable_name or upn }
  local _, serr = send(self, self:_action_request(id, "assignUserToDevice", body))
  if serr then return nil, serr end
  return true
end

local UPDATABLE = {
  ["v1.0"] = { userPrincipalName = true, addressableUserName = true, groupTag = true, displayName = true },
  beta = { userPrincipalName = true, addressableUserName = true, groupTag = true, displayName = true,
           deviceAccountUpn = true, deviceAccountPassword = true, deviceFriendlyName = true },
}

--- Update a device's properties (`updateDeviceProperties`).
-- @tparam string id device id
-- @tparam table fields Graph property names to values (strings): userPrincipalName, addressableUserName,
--   groupTag, displayName; beta adds deviceAccountUpn, deviceAccountPassword, deviceFriendlyName
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error
function Client:update_device(id, fields)
  if type(fields) ~= "table" then error("update_device: fields must be a table, got " .. type(fields), 2) end
  local allowed = UPDATABLE[self.api_version]
  for k, v in pairs(fields) do
    if not allowed[k] then
      error("update_device: '" .. tostring(k) .. "' cannot be updated in " .. self.api_version, 2)
    end
    if type(v) ~= "string" then error("update_device: '" .. k .. "' must be a string, got " .. type(v), 2) end
  end
  if next(fields) == nil then error("update_device: fields is empty", 2) end
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local _, serr = send(self, self:_action_request(id, "updateDeviceProperties", fields))
  if serr then return nil, serr end
  return true
end

--- Delete a device's Autopilot registration.
-- @tparam string id device id
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error (the service answers 400, not 404, for an unknown id)
function Client:delete_device(id)
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local _, serr = send(self, { method = "DELETE", url = self:_url(device_path(id)), idempotent = true })
  if serr then return nil, serr end
  return true
end

--- Read one device.
-- @tparam string id device id
-- @tparam[opt] table opts `via_profile = true` (beta)
-- @treturn[1] table the device, Graph's property names as keys; prints readably
-- @return[2] nil
-- @treturn[2] autopilot.Error (status 404, code "ResourceNotFound" for an unknown id)
function Client:device(id, opts)
  opts = check_opts(opts, { via_profile = "boolean" }, "device")
  local ok, err = check_id(id)
  if not ok then return nil, err end
  local result, serr = send(self, { method = "GET", url = self:_url(device_path(id, opts.via_profile)),
                                    idempotent = true })
  if not result then return nil, serr end
  local d, derr = decode_body(result)
  if d == true then return nil, errors.invalid_response(result, "the device reply has no body") end
  if not d then return nil, derr end
  return M.device_value(d)
end

-- GET a page URL and decode it (the fetch function of odata.pages). A next link is followed only on this
-- client's Graph URL: the bearer token must never go to a host or scheme the service named in a reply.
local function fetch_page(self, url)
  if #url > M.MAX_LINK_BYTES or url:find("[%s%c]") then
    return nil, errors.new { code = "InvalidResponse", kind = "http",
      message = "the service's @odata.nextLink is " .. (#url > M.MAX_LINK_BYTES and #url .. " bytes long"
        or "not a URL (spaces or control characters)") .. ": not followed" }
  end
  if not url_mod.is_under(self.graph_url, url) then
    return nil, errors.new { code = "InvalidResponse", kind = "http",
      message = "the service's @odata.nextLink leaves " .. self.graph_url .. " (" .. ids.describe(url)
        .. "): not followed" }
  end
  local result, err = send(self, { method = "GET", url = url, idempotent = true })
  if not result then return nil, err end
  local page, derr = decode_body(result)
  if page == true then return nil, errors.invalid_response(result, "the page reply has no body") end
  return page, derr
end

local function paging_error(message)
  return errors.new { code = "PagingLimit", kind = "http", message = message }
end

-- The fetch function of one listing (its fallback scan included), with the bounds a service that never
-- lets a listing end runs into: max_pages in all, MAX_IDLE_PAGES in a row with no device the page before
-- lacked (memory stays bounded by a page: only the last one's ids are kept).
local function bounded_fetch(self)
  local pages, idle, before = 0, 0, {}
  return function(url)
    if pages >= self._max_pages then
      return nil, paging_error(string.format("the listing still had a next page after %d pages (max_pages): "
        .. "stopped", pages))
    end
    pages = pages + 1
    local page, err = fetch_page(self, url)
    if type(page) ~= "table" or type(page.value) ~= "table" then return page, err end
    local fresh, page_ids = false, {}
    for _, d in ipairs(page.value) do
      if type(d) == "table" and d.id ~= nil then
        fresh = fresh or not before[d.id]
        page_ids[d.id] = true
      end
    end
    before = page_ids
    idle = fresh and 0 or idle + 1
    if idle >= M.MAX_IDLE_PAGES and page["@odata.nextLink"] ~= nil then
      return nil, paging_error(string.format("%d pages in a row brought no new device and still named a next "
        .. "page: stopped", idle))
    end
    return page
  end
end

--- Walk every matching device, page by page, in memory bounded by one page. A listing that does not end
-- (`max_pages` pages, or `MAX_IDLE_PAGES` in a row without a new device and still a next link) fails with
-- code "PagingLimit"; a next link with spaces, control characters or over `MAX_LINK_BYTES` with
-- "InvalidResponse".
-- A failure in the middle of the listing is reported, never swallowed: the iterator then returns
-- `false, err` once and ends.
--
--     for device, err in client:each_device{ group_tag = "Kiosk" } do
--       if not device then error(tostring(err)) end
--       print(device)
--     end
-- @tparam[opt] table query `serial`, `group_tag`, `model`, `user`, `display_name` (exact matches),
--   `filter` (raw OData `$filter`), `top` (at most this many devices, 1..1000: sent as `$top`, so one page
--   suffices unless devices must be matched here, and paging stops once there are that many)
-- @treturn function iterator yielding a device table, or `false, autopilot.Error` once on failure
function Client:each_device(query)
  ensure_open(self)
  local plan = odata.plan(query)
  local left = plan.top -- the cap: nil for every device
  local base = self:_url(COLLECTION)
  local fetch = bounded_fetch(self)
  local iter = odata.pages(fetch, odata.url(base, plan))
  local first, fell_back = true, false
  return function()
    while left ~= 0 do
      local d, err = iter()
      if d == false and first and plan.keyed and not fell_back and err.status == 400 then
        -- the service refused our contains() (as it did for hyphens): scan everything, match here
        fell_back = true
        iter = odata.pages(fetch, odata.url(base, plan, true))
      elseif not d then
        if d == false then errors.add_filter_hint(err, plan.query.filter) end
        return d, err
      else
        first = false
        if odata.matches(d, plan) then
          if left then left = left - 1 end
          return M.device_value(d)
        end
      end
    end
  end
end

--- Every matching device, as one array (all pages, duplicates from the inclusive cursor removed).
-- @tparam[opt] table query as for `each_device` (`top = n`: at most n devices)
-- @treturn[1] table array of device tables; prints as a short table (`autopilot.repl`)
-- @return[2] nil
-- @treturn[2] autopilot.Error
function Client:list_devices(query)
  local list, seen = {}, {}
  for d, err in self:each_device(query) do
    if not d then return nil, err end
    if not seen[d.id] then
      seen[d.id] = true
      list[#list + 1] = d
    end
  end
  return repl.device_list(list)
end

--- Any other Graph call, with the same authentication, retries and errors.
-- @tparam string method "GET", "POST", "PATCH", "PUT" or "DELETE"
-- @tparam string path a path under the API version ("/deviceManagement/...") or an absolute URL on the
--   Graph host (e.g. an `@odata.nextLink`)
-- @tparam[opt] table|string body a table is sent as JSON, a string as is
-- @treturn[1] table|boolean the decoded JSON reply, or true for an empty one (204)
-- @return[2] nil
-- @treturn[2] autopilot.Error
function Client:request(method, path, body)
  if type(method) ~= "string" or not ({ GET = 1, POST = 1, PATCH = 1, PUT = 1, DELETE = 1 })[method] then
    error("request: method must be GET, POST, PATCH, PUT or DELETE", 2)
  end
  if type(path) ~= "string" then error("request: path must be a string, got " .. type(path), 2) end
  if body ~= nil and type(body) ~= "table" and type(body) ~= "string" then
    error("request: body must be a table or a string, got " .. type(body), 2)
  end
  local url
  if path:sub(1, 1) == "/" then
    url = self:_url(path)
  elseif path:sub(1, #self.graph_url + 1) == self.graph_url .. "/" then
    url = path
  else
    error("request: path must start with '/' or with this client's Graph URL", 2)
  end
  if url:find("[%s%c]") then error("request: path contains spaces or control characters", 2) end
  if not url_mod.is_under(self.graph_url, url) then
    return nil, errors.input("InvalidPath", "request: path " .. ids.describe(path) .. " leaves " .. self.graph_url)
  end
  local req = { method = method, url = url, idempotent = method ~= "POST" }
  if body ~= nil then
    req.body = type(body) == "table" and json.encode(body) or body
    req.headers = { ["Content-Type"] = "application/json" }
  end
  local result, err = send(self, req)
  if not result then return nil, err end
  return decode_body(result)
end

--- Unassign the users of many devices at the service's limit; see `autopilot.bulk`.
-- @param targets ids, device tables, a query table, or a CSV file name
-- @tparam[opt] table opts see `autopilot.bulk.run`
-- @treturn[1] table report
-- @return[2] nil
-- @treturn[2] autopilot.Error
function Client:unassign_users(targets, opts)
  ensure_open(self)
  return require("autopilot.bulk").run(self, targets, opts)
end

--- Assign back the users an unassign run removed (`assignUserToDevice`), through the same plan, pacing,
-- journal, verify and report as `unassign_users`; see `autopilot.bulk.restore`. Devices whose user changed
-- since the run are `skipped_changed`, records without a removed user `no_previous_user`.
-- @param source a journal path, a report path (CSV or JSONL), a report, or an array of records
--   `{ id =, previous_upn =, previous_user_name = }`
-- @tparam[opt] table opts as for `unassign_users` except `force`
-- @treturn[1] table report (`action = "restore"`; outcomes `restored`, `already_restored`, `skipped_changed`,
--   `no_previous_user`, `would_restore`, ...)
-- @return[2] nil
-- @treturn[2] autopilot.Error code "InvalidRestoreSource" (an unreadable file, one that is neither a journal
--   nor a report); nothing was sent
function Client:restore(source, opts)
  ensure_open(self)
  return require("autopilot.bulk.restore").run(self, source, opts)
end

--- What the client is signed in as, for the REPL: never the token itself.
-- The claims come from the access token's payload, decoded without verifying (it is our own token);
-- before the first call there may be no token yet (`has_token` false).
-- @treturn table `{ flow =, cloud =, tenant =, client_id =, app = (display name), user = (delegated),
--   scopes = {...} (delegated) or roles = {...} (app-only), expires_at = (epoch s), has_token =,
--   has_refresh_token =, token_cache = path, token_cache_error = text }`; prints with the expiry as an ISO
--   date and from now
function Client:token_info()
  ensure_open(self)
  local raw = self._session:token_info()
  local c = raw.claims and json.decode(raw.claims)
  if type(c) ~= "table" then c = {} end
  local info = {
    flow = raw.flow, cloud = self.cloud, tenant = c.tid or self.tenant, client_id = c.appid or c.azp or self.client_id,
    app = c.app_displayname, user = c.upn or c.preferred_username or c.unique_name,
    expires_at = raw.expires_at or math.tointeger(c.exp), has_token = raw.has_token,
    has_refresh_token = raw.has_refresh_token,
  }
  local function words(text)
    local out = {}
    for w in tostring(text):gmatch("%S+") do out[#out + 1] = w end
    return out
  end
  if type(c.roles) == "table" then
    info.roles = {}
    for i, r in ipairs(c.roles) do info.roles[i] = tostring(r) end
  elseif type(c.scp) == "string" then
    info.scopes = words(c.scp)
  elseif raw.scope then
    info.scopes = words(raw.scope)
  end
  local cache = self._token_cache
  if cache then info.token_cache, info.token_cache_error = cache.path, cache.error end
  return repl.token_info(info)
end

--- Counters of the underlying session: requests, retries, throttled, paused_seconds (pause already spent,
-- not pause still scheduled), tokens_fetched, and the pacing (write_rate, adapted_rate, queued_writes,
-- write_wait).
-- @treturn table the counters; prints as two lines
function Client:stats()
  ensure_open(self)
  return repl.stats(self._session:stats())
end

--- The client's methods, one line each, for the REPL.
-- @treturn string the list (the REPL prints it)
function Client.help()
  return repl.help("client", Client)
end

--- The descriptor a host's event loop waits on: readable when the client has socket work for `step`.
-- It stays the same for the client's life; do not read, write or close it.
-- @treturn integer the descriptor (an epoll descriptor on Linux)
function Client:pollfd()
  ensure_open(self)
  return self._session:pollfd()
end

--- What to wait for on `pollfd()`: always `"r"` (readable), as cqueues and lua-http expect.
-- @treturn string "r"
function Client.events()
  return "r"
end

--- Seconds until the client next needs a `step` (or a coroutine waiting on it is due) without news on
-- its descriptor: curl's timer, a pacing or retry wait, a device-code poll, a bulk run's tick.
-- @treturn number|nil seconds (0: at once, e.g. after `close` with coroutines still waiting), or nil when
--   nothing is pending
function Client:timeout()
  return waiting.timeout(self)
end

--- Do all that is ready now without blocking, and return: results go to the coroutines that asked for
-- them, which take them when resumed. A host loop calls it, or simply resumes the waiting coroutines
-- (each steps the client itself).
function Client:step()
  if self._session then waiting.step(self) end
end

--- Run `fn()` when the client closes, before its descriptor does (adapters stop watching it there).
-- @tparam function fn
function Client:_on_close(fn)
  self._close_hooks[#self._close_hooks + 1] = fn
end

--- Close the client and its connections. Idempotent; also called by `<close>` and the garbage collector.
-- Coroutines still waiting on an async client get `nil, err` (code "ClientClosed") when next resumed.
function Client:close()
  local s = self._session
  if not s then return end
  local hooks = self._close_hooks or {}
  self._close_hooks = {}
  for _, fn in ipairs(hooks) do pcall(fn) end
  self._session = nil
  s:close()
end
Client.__close = Client.close
Client.__gc = Client.close

--- One line for the REPL; never a secret or a token.
function Client:__tostring()
  return string.format("autopilot.Client (%s, tenant %s, %s/%s, %s)", self.flow, tostring(self.tenant or "-"),
    self.graph_url, self.api_version, self._session and "open" or "closed")
end

--- The module's functions, one line each, for the REPL (`client:help()` lists a client's methods).
-- @treturn string the list (the REPL prints it)
function M.help()
  return repl.help("module", M)
end

M.Client = Client
return M
