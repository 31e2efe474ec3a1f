--- The device authorization grant of the emulated identity platform: the devicecode endpoint, the
-- token endpoint's polling side (authorization_pending, slow_down + 5 s, authorization_declined,
-- expired_token, bad_verification_code), and approval by `configure` or after N polls.
-- Every poll's time is recorded so a spec can check the client's spacing.
--
-- Two settings (`device_code = {...}` at start or in `configure`) make the service misbehave on purpose:
-- `slow_down = n` answers the next n polls of a known, unexpired code with slow_down however well they are
-- spaced (the real service asks a client to back off when it wants; each one adds 5 s to the code's
-- interval, as for a poll that came too early; these polls do not count towards `approve_after`), and
-- `bad_code = true | user_code` answers bad_verification_code to every poll (true) or to the polls of that
-- login's code, as if the device code had been mistyped or truncated (`false` turns it off).
-- @module autopilot.emulator.identity.device_code
local core = require("autopilot.emulator.identity.core")
local form = require("autopilot.emulator.identity.form")
local tokens = require("autopilot.emulator.identity.tokens")
local client_auth = require("autopilot.emulator.identity.client_auth")
local errors = require("autopilot.emulator.identity.errors")

local M = {}

M.VERIFICATION_URI = "https://microsoft.com/devicelogin"
M.POLLS_KEPT = 10000
local OIDC = { openid = true, profile = true, email = true, offline_access = true }
local LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

--- Parses a delegated `scope` parameter.
-- Graph permissions may be bare ("DeviceManagementServiceConfig.Read.All"), prefixed with the Graph
-- resource URL or app id, or ".default"; another resource (another cloud's Graph) is unknown here.
-- @tparam table idp
-- @tparam string text
-- @treturn[1] table `{ graph = { names... }, default = bool, oidc = { name = true } }`
-- @return[2] nil
-- @treturn[2] string error name ("unknown_resource" or "bad_scope")
-- @treturn[2] table its arguments
function M.parse_scopes(idp, text)
  local graph, seen, oidc, default = {}, {}, {}, false
  for _, w in ipairs(form.words(text)) do
    local l = w:lower()
    if OIDC[l] then
      oidc[l] = true
    else
      local res, name = w:match("^(%a[%w+.-]*://[^/]+)/+(.*)$")
      if not res then res, name = w:match("^(%x+%-[%x%-]+)/+(.*)$") end
      if res and not core.is_graph(idp, res) then
        return nil, "unknown_resource", { res, idp.tenant_domain }
      end
      name = name or w
      if name == "" or name:find("[/%s]") then return nil, "bad_scope", { w } end
      if name:lower() == ".default" then
        default = true
      elseif not seen[name:lower()] then
        seen[name:lower()] = true
        graph[#graph + 1] = name
      end
    end
  end
  return { graph = graph, default = default, oidc = oidc }
end

--- The Graph permissions a delegated grant gets: those asked for (all consented ones for ".default"),
-- each of which the app must have been consented to, narrowed to the user's own when the user has a list.
-- @tparam table app
-- @tparam table user
-- @tparam table parsed a result of @{parse_scopes}
-- @treturn[1] table permission names
-- @return[2] nil
-- @treturn[2] string "consent"
-- @treturn[2] table its arguments
function M.grant(app, user, parsed)
  local consented = {}
  for _, s in ipairs(app.delegated_scopes) do consented[s:lower()] = s end
  local wanted, seen = {}, {}
  local function add(s)
    if not seen[s:lower()] then seen[s:lower()] = true wanted[#wanted + 1] = s end
  end
  for _, s in ipairs(parsed.graph) do add(s) end
  if parsed.default then for _, s in ipairs(app.delegated_scopes) do add(s) end end
  local out = {}
  local mine
  if user.scopes then
    mine = {}
    for _, s in ipairs(user.scopes) do mine[s:lower()] = true end
  end
  for _, s in ipairs(wanted) do
    local canon = consented[s:lower()]
    if not canon then return nil, "consent", { app.client_id, app.name } end
    if not mine or mine[s:lower()] then out[#out + 1] = canon end
  end
  return out
end

local function new_user_code(idp)
  for _ = 1, 100 do
    local t = {}
    for i = 1, 9 do
      local k = core.random(idp, 1, #LETTERS)
      t[i] = LETTERS:sub(k, k)
    end
    local code = table.concat(t)
    if not idp.user_codes[code] then return code end
  end
  error("device code: no free user code")
end

--- POST /{tenant}/oauth2/v2.0/devicecode.
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam string seg the `{tenant}` segment
-- @treturn table host reply
function M.endpoint(idp, req, now, seg)
  local meta = { endpoint = "devicecode" }
  if req.method ~= "POST" then return core.fail(idp, req, now, "method", { req.method }, meta) end
  if not core.tenant_kind(idp, seg) then return core.fail(idp, req, now, "unknown_tenant", { seg }, meta) end
  local params = form.body(req)
  meta.client_id = params.client_id
  local app, bad = core.requested_app(idp, req, now, params, meta)
  if not app then return bad end
  if not params.scope then return core.fail(idp, req, now, "missing", { "scope" }, meta) end
  local parsed, err, args = M.parse_scopes(idp, params.scope)
  if not parsed then return core.fail(idp, req, now, err, args, meta) end
  local cfg = idp.device
  local device_code = "DAQABIQEAAAD" .. core.secret(48)
  local user_code = new_user_code(idp)
  local entry = { client_id = app.client_id, parsed = parsed, user_code = user_code, created = now,
    expires_at = now + cfg.expires_in, interval = cfg.interval, polls = 0, state = "pending",
    hash = core.hash(device_code) }
  idp.codes[entry.hash] = entry
  idp.user_codes[user_code] = entry
  idp.stats.device_codes_issued = idp.stats.device_codes_issued + 1
  return core.json(200, {
    user_code = user_code, device_code = device_code, verification_uri = M.VERIFICATION_URI,
    expires_in = math.tointeger(cfg.expires_in) or cfg.expires_in,
    interval = math.tointeger(cfg.interval) or cfg.interval,
    message = "To sign in, use a web browser to open the page " .. M.VERIFICATION_URI .. " and enter the code "
      .. user_code .. " to authenticate.",
  })
end

--- Decides a pending login (from `configure` or the automatic rule).
-- @tparam table idp
-- @tparam table entry
-- @tparam string decision "approve" or "decline"
-- @tparam[opt] string upn who signs in (default: the configured device-code user, else the first user)
function M.decide(idp, entry, decision, upn)
  if entry.state ~= "pending" then return end
  if decision == "decline" then
    entry.state = "declined"
    return
  end
  local user = upn and idp.users[upn:lower()] or idp.users[(idp.device.user or ""):lower()] or idp.user_list[1]
  if not user then error("device code: no user to sign in (configure users = { { upn = ... } })") end
  entry.state, entry.upn = "approved", user.upn:lower()
end

local function record(idp, now, entry, result)
  local polls = idp.stats.device_code.polls
  polls[#polls + 1] = { time = now, user_code = entry and entry.user_code or nil, result = result,
    interval = entry and entry.interval or nil }
  if #polls > M.POLLS_KEPT then table.remove(polls, 1) end
end

--- The token endpoint's device_code grant (one poll).
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam string seg
-- @tparam table params the decoded form
-- @tparam table meta the error record's context
-- @treturn table host reply
function M.poll(idp, req, now, seg, params, meta)
  local function fail(name, entry, args)
    record(idp, now, entry, errors.catalogue[name][1])
    return core.fail(idp, req, now, name, args, meta)
  end
  if not params.client_id then return fail("missing", nil, { "client_id" }) end
  local app = core.app(idp, params.client_id)
  if not app then return fail("unknown_app", nil, { params.client_id, idp.tenant_domain }) end
  if not params.device_code then return fail("missing", nil, { "device_code" }) end
  local how, err, args = client_auth.authenticate(idp, req, now, seg, params, app, not app.public)
  if not how then return fail(err, nil, args) end
  local entry = idp.codes[core.hash(params.device_code)]
  if not entry or entry.client_id ~= app.client_id then return fail("bad_code") end
  local cfg = idp.device
  if cfg.bad_code == true or cfg.bad_code == entry.user_code then return fail("bad_code", entry) end
  if entry.state == "redeemed" then return fail("code_redeemed", entry) end
  if now > entry.expires_at or entry.state == "expired" then
    entry.state = "expired"
    return fail("code_expired", entry)
  end
  if entry.state == "declined" then return fail("declined", entry) end
  local forced = (cfg.slow_down or 0) > 0
  if forced or entry.last_poll and now - entry.last_poll < entry.interval - 1e-6 then
    if forced then cfg.slow_down = cfg.slow_down - 1 end
    entry.last_poll = now
    entry.interval = entry.interval + 5 -- what MSAL does on slow_down, so the service asks the same
    return fail("slow_down", entry, { entry.interval })
  end
  entry.last_poll = now
  entry.polls = entry.polls + 1
  if entry.state == "pending" and (cfg.approve_after or cfg.decline) and entry.polls > (cfg.approve_after or 0) then
    M.decide(idp, entry, cfg.decline and "decline" or "approve")
  end
  if entry.state == "pending" then return fail("pending", entry) end
  if entry.state == "declined" then return fail("declined", entry) end
  local user = idp.users[entry.upn]
  local scopes, gerr, gargs = M.grant(app, user, entry.parsed)
  if not scopes then
    entry.state = "redeemed"
    return fail(gerr, entry, gargs)
  end
  entry.state = "redeemed"
  idp.user_codes[entry.user_code] = nil
  record(idp, now, entry, "success")
  local by = idp.stats.by_grant
  by.device_code = (by.device_code or 0) + 1
  local acr = how == "secret" and "1" or (how == "none" and "0" or "2")
  return tokens.delegated(idp, now, params, app, user, scopes, entry.parsed.oidc, acr)
end

--- Checks the `slow_down` setting.
-- @param v a whole number of polls, or false (none)
-- @treturn integer polls to answer slow_down; raises on anything else
function M.check_slow_down(v)
  if v == false then return 0 end
  local n = math.tointeger(v)
  if not n or n < 0 then error("device_code.slow_down: a whole number of polls, or false", 0) end
  return n
end

--- Checks the `bad_code` setting.
-- @param v true (every code), a user code (that login's), or false (none)
-- @treturn boolean|string|nil the setting as kept (user codes upper-cased); raises on anything else
function M.check_bad_code(v)
  if v == true then return true end
  if v == false then return nil end
  if type(v) == "string" and v ~= "" then return v:upper() end
  error("device_code.bad_code: true, a user code, or false", 0)
end

--- Applies `configure{ device_code = {...} }`.
-- @tparam table idp
-- @tparam table arg `{ approve = user_code|true, decline = user_code|true, user = upn, approve_after = n|false,
--   decline_after = bool (sets `decline`), expires_in = s, interval = s, slow_down = n (the next n polls),
--   bad_code = true|user_code|false }`
-- @treturn integer how many pending logins were decided
function M.configure(idp, arg)
  local cfg = idp.device
  if arg.approve_after ~= nil then cfg.approve_after = arg.approve_after or nil end
  if arg.auto_decline ~= nil then cfg.decline = arg.auto_decline and true or false end
  if arg.expires_in ~= nil then cfg.expires_in = assert(tonumber(arg.expires_in), "expires_in: a number") end
  if arg.interval ~= nil then cfg.interval = assert(tonumber(arg.interval), "interval: a number") end
  if arg.user ~= nil and arg.approve == nil and arg.decline == nil then cfg.user = arg.user end
  if arg.slow_down ~= nil then cfg.slow_down = M.check_slow_down(arg.slow_down) end
  if arg.bad_code ~= nil then cfg.bad_code = M.check_bad_code(arg.bad_code) end
  local decided = 0
  for _, what in ipairs({ "approve", "decline" }) do
    local which = arg[what]
    if which == true then
      for _, entry in pairs(idp.codes) do
        if entry.state == "pending" then
          M.decide(idp, entry, what, arg.user)
          decided = decided + 1
        end
      end
    elseif type(which) == "string" then
      local entry = idp.user_codes[which:upper()]
      if not entry then error("device_code." .. what .. ": no pending login with user code " .. which) end
      M.decide(idp, entry, what, arg.user)
      decided = decided + 1
    elseif which ~= nil and which ~= false then
      error("device_code." .. what .. ": a user code or true")
    end
  end
  return decided
end

return M
