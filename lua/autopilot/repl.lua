--- Readable values at the REPL: what `token_info()`, `stats()` and `list_devices()` return prints as a few
-- lines instead of `table: 0x...`, and `help()` lists the API with a one-line summary per function.
--
-- The values stay plain tables (fields, `ipairs`, `cjson` all work as before); only a metatable with
-- `__tostring` and `__name` is added. Nothing printed here can hold a token or a secret: the token info has
-- none, and the printers only read the fields they name.
-- @module autopilot.repl
local M = {}

--- Rows of a device list shown by `tostring` (the rest are counted).
M.LIST_ROWS = 10

--- The one table `help()` is generated from: `{ name, arguments, summary }` per public function, the
-- module's first, then the client's (methods). Entries whose function does not exist are left out.
M.FUNCTIONS = {
  module = {
    { "connect", "([opts])", "sign in (secret, certificate, device code, managed identity, token) -> client | nil, "
      .. "err" },
    { "help", "()", "this list" },
    { "device_value", "(t)", "mark a device table so it prints readably -> t" },
  },
  client = {
    { "unassign_user", "(id [, opts])", "take the assigned user off a device -> true | nil, err" },
    { "assign_user", "(id, upn [, name])", "assign a user to a device -> true | nil, err" },
    { "update_device", "(id, fields)", "set groupTag, displayName, user fields -> true | nil, err" },
    { "delete_device", "(id)", "delete a device's Autopilot registration -> true | nil, err" },
    { "device", "(id [, opts])", "read one device -> device | nil, err" },
    { "list_devices", "([query])", "matching devices (top = n: at most n) -> list | nil, err" },
    { "each_device", "([query])", "iterate: serial, group_tag, model, user, display_name, filter, top" },
    { "request", "(method, path [, body])", "any other Graph call -> decoded reply | nil, err" },
    { "unassign_users", "(targets [, opts])", "bulk unassign: plan, pacing, journal, verify -> report | nil, err" },
    { "restore", "(source [, opts])", "assign back the users a journal or report recorded -> report | nil, err" },
    { "token_info", "()", "who the client is signed in as, and until when (never the token)" },
    { "stats", "()", "the session's counters and pacing" },
    { "help", "()", "this list" },
    { "pollfd", "()", "embedding (async = true): the descriptor a host loop waits on -> integer" },
    { "events", "()", "embedding: what to wait for on pollfd() -> \"r\"" },
    { "timeout", "()", "embedding: seconds until the next step is due -> number | nil (nothing pending)" },
    { "step", "()", "embedding: do what is ready now, never blocking" },
    { "close", "()", "close the client and its connections" },
  },
}

local function listing(title, prefix, entries, where)
  local rows, width = {}, 0
  for _, e in ipairs(entries) do
    if type(where[e[1]]) == "function" then
      local call = prefix .. e[1] .. e[2]
      rows[#rows + 1] = { call, e[3] }
      if #call > width then width = #call end
    end
  end
  local lines = { title }
  for _, r in ipairs(rows) do lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", r[1], r[2]) end
  return table.concat(lines, "\n")
end

--- The help text of the module or of a client.
-- @tparam string which `"module"` or `"client"`
-- @tparam table where the module table or the Client metatable (whose functions exist)
-- @treturn string a title line, then one line per function
function M.help(which, where)
  if which == "module" then
    return listing("autopilot (client:help() for a client's methods; README.md and doc/api for more):",
      "autopilot.", M.FUNCTIONS.module, where)
  end
  return listing("autopilot.Client methods:", "client:", M.FUNCTIONS.client, where)
end

--- An epoch time as an ISO 8601 date in UTC.
-- @tparam number|nil t seconds since the epoch
-- @treturn string `"2026-12-03T12:53:06Z"`, or `"-"` for nil
function M.iso(t)
  if type(t) ~= "number" then return "-" end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

--- How far a time is from now, in words.
-- @tparam number t seconds since the epoch
-- @tparam number now seconds since the epoch
-- @treturn string `"in 59 min"`, `"in 2 h 05 min"`, `"in 40 s"`, `"3 min ago"`
function M.relative(t, now)
  local d = math.floor(t - now + 0.5)
  local a = math.abs(d)
  local s
  if a < 60 then
    s = a .. " s"
  elseif a < 3600 then
    s = a // 60 .. " min"
  else
    s = string.format("%d h %02d min", a // 3600, (a % 3600) // 60)
  end
  return d >= 0 and ("in " .. s) or (s .. " ago")
end

local TokenInfo = { __name = "autopilot.TokenInfo" }

--- A few lines: flow, tenant, app, user, roles or scopes, expiry as a date and from now; never the token.
-- @treturn string
function TokenInfo:__tostring()
  local lines = { string.format("autopilot.TokenInfo %s, cloud %s, tenant %s", tostring(self.flow),
    tostring(self.cloud), tostring(self.tenant or "-")) }
  local app = tostring(self.client_id or "-") .. (self.app and (" (" .. self.app .. ")") or "")
  lines[#lines + 1] = "  app: " .. app .. (self.user and ("; user " .. self.user) or "")
  if self.roles then lines[#lines + 1] = "  roles: " .. table.concat(self.roles, " ") end
  if self.scopes then lines[#lines + 1] = "  scopes: " .. table.concat(self.scopes, " ") end
  if self.expires_at then
    lines[#lines + 1] = "  expires: " .. M.iso(self.expires_at) .. " (" .. M.relative(self.expires_at, os.time()) .. ")"
  else
    lines[#lines + 1] = "  expires: - (no token yet: one is fetched with the first call)"
  end
  if self.has_refresh_token then lines[#lines + 1] = "  refresh token: held" end
  if self.token_cache then
    lines[#lines + 1] = "  token cache: " .. self.token_cache .. (self.token_cache_error and
      (" (" .. self.token_cache_error .. ")") or "")
  end
  return table.concat(lines, "\n")
end

--- Mark a `token_info()` table so that it prints readably.
-- @tparam table t
-- @treturn table t
function M.token_info(t)
  return setmetatable(t, TokenInfo)
end

local Stats = { __name = "autopilot.Stats" }

--- Two lines: traffic, then pacing.
-- @treturn string
function Stats:__tostring()
  local s = string.format("autopilot.Stats %d requests, %d retries, %d throttled (429), %.1f s paused, "
    .. "%d tokens fetched", self.requests or 0, self.retries or 0, self.throttled or 0, self.paused_seconds or 0,
    self.tokens_fetched or 0)
  if self.write_rate then
    s = s .. string.format("\n  pacing: limit %.2f writes/s, adapted to %.2f/s, %d queued", self.write_rate,
      self.adapted_rate or self.write_rate, self.queued_writes or 0)
    if (self.write_wait or 0) > 0 then s = s .. string.format(", next in %.1f s", self.write_wait) end
  end
  return s
end

--- Mark a `stats()` table so that it prints readably.
-- @tparam table t
-- @treturn table t
function M.stats(t)
  return setmetatable(t, Stats)
end

local COLUMNS = { { "id", 36 }, { "serialNumber", 16 }, { "userPrincipalName", 28 }, { "groupTag", 12 } }

local function cell(v, w)
  local s = (v == nil or v == "") and "-" or tostring(v)
  if #s > w then s = s:sub(1, w - 1) .. ">" end
  return s .. string.rep(" ", w - #s)
end

local DeviceList = { __name = "autopilot.DeviceList" }

--- A short table: a count, a header, the first `M.LIST_ROWS` devices, and how many more.
-- @treturn string
function DeviceList:__tostring()
  local lines = { string.format("autopilot.DeviceList %d device%s", #self, #self == 1 and "" or "s") }
  if #self == 0 then return lines[1] end
  local head = {}
  for i, c in ipairs(COLUMNS) do head[i] = cell(c[1] == "userPrincipalName" and "user" or c[1], c[2]) end
  lines[#lines + 1] = "  " .. table.concat(head, " "):gsub("%s+$", "")
  for i = 1, math.min(#self, M.LIST_ROWS) do
    local row = {}
    for j, c in ipairs(COLUMNS) do row[j] = cell(self[i][c[1]], c[2]) end
    lines[#lines + 1] = "  " .. table.concat(row, " "):gsub("%s+$", "")
  end
  if #self > M.LIST_ROWS then lines[#lines + 1] = string.format("  ... %d more", #self - M.LIST_ROWS) end
  return table.concat(lines, "\n")
end

--- Mark an array of devices so that it prints as a short table.
-- @tparam table list
-- @treturn table list
function M.device_list(list)
  return setmetatable(list, DeviceList)
end

return M
