--- Graph routes and operations for Windows Autopilot device identities, v1.0 and beta.
-- `route` maps a path to an operation; `run` performs one after authorization, throttling and
-- faults were dealt with (see app.lua for that pipeline). Reads see the store's visible view;
-- writes act on the current one.
--
-- Devices: list, `$count`, get, delete, the actions (assignUserToDevice, unassignUserFromDevice,
-- updateDeviceProperties; beta's allowNextEnrollment) and the collection action deleteDevices (by serial
-- number). Beta only: the deployment profiles (`windowsAutopilotDeploymentProfiles`, autopilot.emulator.profiles),
-- a device's `deploymentProfile` / `intendedDeploymentProfile` by navigation or `$expand`, and the
-- `{id}/deploymentProfile/assignedDevices/{id}` nesting. v1.0 answers beta's segments 400, as Graph does.
-- @module autopilot.emulator.graph
local cjson = require("cjson.safe").new()
local envelope = require "autopilot.emulator.envelope"
local generator = require "autopilot.emulator.generator"
local odata = require "autopilot.emulator.odata"
local profiles = require "autopilot.emulator.profiles"

local M = {}

local PAGE = 1000 -- the service's default and largest page
local RW = "DeviceManagementServiceConfig.ReadWrite.All"
local RO = "DeviceManagementServiceConfig.Read.All"

local ACTIONS = {
  unassignuserfromdevice = "unassignUserFromDevice",
  assignusertodevice = "assignUserToDevice",
  updatedeviceproperties = "updateDeviceProperties",
  allownextenrollment = "allowNextEnrollment",
}
local BETA_ONLY = { allowNextEnrollment = true }

-- beta's single-valued navigation properties of a device, by lower-case segment
local NAVIGATION = { deploymentprofile = "deploymentProfile", intendeddeploymentprofile = "intendedDeploymentProfile" }

local UPDATABLE = {
  ["v1.0"] = { userPrincipalName = true, addressableUserName = true, groupTag = true, displayName = true },
  beta = { userPrincipalName = true, addressableUserName = true, groupTag = true, displayName = true,
    deviceAccountUpn = true, deviceAccountPassword = true, deviceFriendlyName = true },
}

local function decode_segment(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function segments(path)
  local out = {}
  for seg in path:gmatch("[^/]+") do out[#out + 1] = decode_segment(seg) end
  return out
end

local function not_segment(seg)
  return { status = 400, code = "BadRequest", message = "Resource not found for the segment '" .. seg .. "'." }
end

local function bad_method(method, template, allow)
  return { status = 405, code = "No method match route template", allow = allow,
    message = "No OData route exists that match template " .. template .. " with http verb " .. method
      .. " for request /DeviceEnrollmentFE/StatelessDeviceEnrollmentFEService." }
end

-- beta's deployment profiles: the collection and one profile (v1.0 has neither)
local function route_profiles(method, s, op)
  if op.ver ~= "beta" then return nil, not_segment(s[3]) end
  if #s > 4 then return nil, not_segment(s[5]) end
  if method ~= "GET" then
    return nil, bad_method(method, #s == 3 and "~/singleton/navigation" or "~/singleton/navigation/key", "GET")
  end
  op.write = false
  if #s == 3 then op.name = "profiles" else op.name, op.id = "profile", s[4] end
  return op
end

--- Maps a request to an operation.
-- @tparam string method upper case
-- @tparam string path the decoded-later raw path, e.g. "/beta/deviceManagement/..."
-- @treturn[1] table `{ name =, ver =, write =, id =, outer =, nav = (navigation property), read_ok =
-- (Read.All suffices) }`
-- @return[2] nil
-- @treturn[2] table `{ status =, code =, message =, allow = }` for 400/404/405
function M.route(method, path)
  local s = segments(path)
  local ver = s[1] and s[1]:lower()
  if ver ~= "v1.0" and ver ~= "beta" then
    if ver and ver:match("^v%d") then
      return nil, { status = 400, code = "BadRequest", message = "Invalid version: " .. s[1] }
    end
    return nil, { status = 404, code = "NotFound", message = "The requested resource was not found." }
  end
  local op = { ver = ver }
  local s2 = s[2] and s[2]:lower()
  if s2 == "$batch" and #s == 2 then
    if method ~= "POST" then return nil, bad_method(method, "~/$batch", "POST") end
    op.name = "batch"
    return op
  end
  if s2 ~= "devicemanagement" then return nil, not_segment(s[2] or "") end
  local s3 = s[3] and s[3]:lower()
  if s3 == "windowsautopilotsettings" then
    if #s == 3 then
      if method ~= "GET" then return nil, bad_method(method, "~/singleton/navigation", "GET") end
      op.name, op.write = "settings", false
      return op
    end
    if #s == 4 and s[4]:lower() == "sync" then
      if method ~= "POST" then return nil, bad_method(method, "~/singleton/navigation/action", "POST") end
      op.name, op.write = "sync", true
      return op
    end
    return nil, not_segment(s[4])
  end
  if s3 == "windowsautopilotdeploymentprofiles" then return route_profiles(method, s, op) end
  if s3 ~= "windowsautopilotdeviceidentities" then return nil, not_segment(s[3] or "") end
  local n = #s
  if n == 3 then
    if method ~= "GET" then return nil, bad_method(method, "~/singleton/navigation", "GET") end
    op.name, op.write = "list", false
    return op
  end
  if n == 4 and s[4] == "$count" then -- the collection's count, never a device id
    if method ~= "GET" then return nil, bad_method(method, "~/singleton/navigation/$count", "GET") end
    op.name, op.write = "count", false
    return op
  end
  if n == 4 and s[4]:lower() == "deletedevices" then -- a collection action, never a device id
    if method ~= "POST" then return nil, bad_method(method, "~/singleton/navigation/action", "POST") end
    op.name, op.write = "deleteDevices", true
    return op
  end
  op.id = s[4]
  local first = 5
  local nav = n >= 5 and NAVIGATION[s[5]:lower()]
  if nav and n == 5 then -- GET .../{id}/deploymentProfile | intendedDeploymentProfile (beta only)
    if ver ~= "beta" then return nil, not_segment(s[5]) end
    if method ~= "GET" then return nil, bad_method(method, "~/singleton/navigation/key/navigation", "GET") end
    op.name, op.write, op.nav = "navigation", false, nav
    return op
  end
  if nav == "intendedDeploymentProfile" then return nil, not_segment(s[6]) end
  if nav then
    if ver ~= "beta" then return nil, not_segment(s[5]) end
    if n < 6 or s[6]:lower() ~= "assigneddevices" then return nil, not_segment(s[6] or s[5]) end
    if n < 7 then return nil, not_segment(s[6]) end
    op.outer, op.id, first = s[4], s[7], 8
  end
  if n == first - 1 then
    local template = op.outer and "~/singleton/navigation/key/navigation/navigation/key"
      or "~/singleton/navigation/key"
    if method == "GET" then op.name, op.write = "get", false
    elseif method == "DELETE" then op.name, op.write = "delete", true
    else return nil, bad_method(method, template, "GET, DELETE") end
    return op
  end
  if n == first then
    local action = ACTIONS[s[first]:lower()]
    if not action or (BETA_ONLY[action] and ver ~= "beta") then return nil, not_segment(s[first]) end
    if method ~= "POST" then return nil, bad_method(method, "~/singleton/navigation/key/action", "POST") end
    op.name, op.write = action, true
    op.read_ok = action == "unassignUserFromDevice" and ver == "beta"
    return op
  end
  return nil, not_segment(s[first + 1] or s[n])
end

local function has(claims, perm)
  if type(claims.roles) == "table" then
    for _, r in ipairs(claims.roles) do if r == perm then return true end end
  end
  if type(claims.scp) == "string" then
    return (" " .. claims.scp .. " "):find(" " .. perm .. " ", 1, true) ~= nil
  end
  return false
end

--- Whether the token's permissions allow the operation.
-- @tparam table claims from identity.authorize
-- @tparam table op from `route`
-- @treturn boolean
-- @treturn string the scopes that would do (for the 403 message)
function M.permitted(claims, op)
  if op.name == "batch" then return true, "" end
  if not op.write or op.read_ok then
    return has(claims, RW) or has(claims, RO), RO .. ", " .. RW
  end
  return has(claims, RW), RW
end

--- Whether the operation writes (for throttling).
-- @tparam string method
-- @treturn boolean
function M.is_write(method)
  return method == "POST" or method == "PUT" or method == "PATCH" or method == "DELETE"
end

local enc = cjson.encode

--- A device as JSON text for one API version (cached on the record until it changes).
-- @tparam table d the record
-- @tparam boolean beta
-- @treturn string JSON object text
function M.render(d, beta)
  local key = beta and "_jb" or "_j1"
  local cached = d[key]
  if cached then return cached end
  local parts = { '{"@odata.type":"#microsoft.graph.windowsAutopilotDeviceIdentity"' }
  for _, f in ipairs(generator.V1_FIELDS) do
    local v = d[f]
    -- v1.0's enum has no `blocked`: the service can only send such a device's state as unknown
    if f == "enrollmentState" and not beta and not generator.V1_ENROLLMENT[v] then v = "unknown" end
    parts[#parts + 1] = ',"' .. f .. '":' .. enc(v)
  end
  if beta then
    for _, f in ipairs(generator.BETA_FIELDS) do
      local v = d[f]
      if f == "deviceAccountPassword" then v = "" end -- write-only
      parts[#parts + 1] = ',"' .. f .. '":' .. enc(v)
    end
  end
  parts[#parts + 1] = "}"
  local s = table.concat(parts)
  d[key] = s
  return s
end

local function ok_json(ctx, status, body)
  return { status = status, headers = envelope.headers(ctx, envelope.ODATA_JSON), body = body }
end

local function no_content(ctx)
  return { status = 204, headers = envelope.headers(ctx), body = "" }
end

local function not_found(ctx, id)
  return envelope.intune_error(ctx, 404, "ResourceNotFound",
    "An error has occurred - Requested resource " .. tostring(id) .. " was not found")
end

local function bad_payload(ctx)
  return envelope.error(ctx, 400, "BadRequest", "Unable to read JSON request payload. Please ensure "
    .. "Content-Type header is set and payload is of valid JSON format.")
end

local function bad_param(ctx, name, op)
  return envelope.error(ctx, 400, "BadRequest", "The parameter '" .. tostring(name) .. "' in the request "
    .. "payload is not a valid parameter for the operation '" .. op .. "'.")
end

-- The JSON object in the body; nil, resp when it is not one. An empty body is an empty object.
local function json_body(ctx)
  local body = ctx.body or ""
  if not body:find("%S") then return {} end
  local t = cjson.decode(body)
  if type(t) ~= "table" or (next(t) == nil and body:match("^%s*%[")) or t[1] ~= nil then
    return nil, bad_payload(ctx)
  end
  return t
end

-- The device a write targets (current view), checking the beta nesting.
local function target(app, op, current)
  local get = current and app.store.get_current or app.store.get
  -- ids are GUIDs: any case finds the device
  local d = get(app.store, op.id) or get(app.store, op.id:lower())
  if not d then return nil end
  if op.outer then
    local o = get(app.store, op.outer) or get(app.store, op.outer:lower())
    if not o or not o._profile or o._profile ~= d._profile then return nil end
  end
  return d
end

-- The tenant's deployment profiles, made once from its seed on first use.
local function tenant_profiles(app)
  local set = app.profiles
  if not set then
    set = profiles.new(app.seed)
    app.profiles = set
  end
  return set
end

-- The navigation properties $expand asks for: an array of property names (possibly empty), or nil and
-- the 400 answer. v1.0's device has no navigation properties, so there every name is unknown.
local function expand_list(ctx, q)
  local text = q["$expand"]
  if text == nil then return {} end
  local want, seen = {}, {}
  for item in text:gmatch("[^,]+") do
    local name = item:match("^%s*(.-)%s*$")
    local nav
    if name == "*" then
      if ctx.beta then
        for _, n in ipairs({ "deploymentProfile", "intendedDeploymentProfile" }) do
          if not seen[n] then seen[n] = true; want[#want + 1] = n end
        end
      end
    elseif name:find("[(/]") then -- the emulator keeps $expand simple: say so rather than guess
      return nil, envelope.error(ctx, 400, "BadRequest", "The emulator does not support nested query options "
        .. "or paths in $expand: '" .. name .. "'.")
    else
      nav = ctx.beta and NAVIGATION[name:lower()]
      if not nav then
        return nil, envelope.error(ctx, 400, "BadRequest", "Could not find a property named '" .. name
          .. "' on type 'microsoft.graph.windowsAutopilotDeviceIdentity'.")
      end
      if not seen[nav] then seen[nav] = true; want[#want + 1] = nav end
    end
  end
  return want
end

-- The id of the profile a navigation property leads to (nil: none).
local function profile_of(d, nav)
  if nav == "deploymentProfile" then return d._profile end
  return d._intended
end

-- A rendered device with its expanded navigation properties appended (null when it has none).
local function expanded(app, d, rendered, want)
  if #want == 0 then return rendered end
  local set, parts = tenant_profiles(app), { rendered:sub(1, -2) }
  for _, nav in ipairs(want) do
    local id = profile_of(d, nav)
    parts[#parts + 1] = ',"' .. nav .. '":' .. (set:text(id) or "null")
  end
  parts[#parts + 1] = "}"
  return table.concat(parts)
end

local ops = {}

function ops.get(app, ctx, op)
  local _, q = odata.parse_query(ctx.qs)
  local want, bad = expand_list(ctx, q)
  if not want then return bad end
  local d = target(app, op, false)
  if not d then return not_found(ctx, op.id) end
  local ctxurl = ctx.base .. "/$metadata#deviceManagement/windowsAutopilotDeviceIdentities/$entity"
  return ok_json(ctx, 200, '{"@odata.context":' .. enc(ctxurl) .. ","
    .. expanded(app, d, M.render(d, ctx.beta), want):sub(2))
end

-- GET beta .../{id}/deploymentProfile | intendedDeploymentProfile: the profile, 404 when there is none.
function ops.navigation(app, ctx, op)
  local d = target(app, op, false)
  if not d then return not_found(ctx, op.id) end
  local text = tenant_profiles(app):text(profile_of(d, op.nav))
  if not text then return not_found(ctx, op.nav) end
  local ctxurl = ctx.base .. "/$metadata#deviceManagement/windowsAutopilotDeviceIdentities('" .. d.id .. "')/"
    .. op.nav .. "/$entity"
  return ok_json(ctx, 200, '{"@odata.context":' .. enc(ctxurl) .. "," .. text:sub(2))
end

-- GET beta .../windowsAutopilotDeploymentProfiles: every profile (a handful: one page).
function ops.profiles(app, ctx)
  local set, parts = tenant_profiles(app), {}
  for i, p in ipairs(set.list) do parts[i] = set.json[p.id] end
  local ctxurl = ctx.base .. "/$metadata#deviceManagement/windowsAutopilotDeploymentProfiles"
  return ok_json(ctx, 200, '{"@odata.context":' .. enc(ctxurl) .. ',"value":[' .. table.concat(parts, ",") .. "]}")
end

-- GET beta .../windowsAutopilotDeploymentProfiles/{id}
function ops.profile(app, ctx, op)
  local text = tenant_profiles(app):text(op.id)
  if not text then return not_found(ctx, op.id) end
  local ctxurl = ctx.base .. "/$metadata#deviceManagement/windowsAutopilotDeploymentProfiles/$entity"
  return ok_json(ctx, 200, '{"@odata.context":' .. enc(ctxurl) .. "," .. text:sub(2))
end

-- $select honoured (with the service's 500 quirk switched off): the lower-case names asked for.
local function select_set(text)
  local keep = { id = true }
  for name in text:gmatch("[^,%s]+") do keep[name:lower()] = true end
  return keep
end

-- A rendered device cut down to the selected properties (and its id, as Graph keeps the key).
local function selected(rendered, keep)
  local out = {}
  for k, v in pairs(cjson.decode(rendered)) do
    if keep[k:lower()] or k:sub(1, 1) == "@" then out[k] = v end
  end
  return enc(out)
end

-- The $filter of a listing or a count: the compiled predicate, or nil and the error answer.
local function listing_filter(ctx, q)
  if not q["$filter"] then return nil end
  local pred, err = odata.compile_filter(q["$filter"])
  if pred then return pred end
  if err.kind == "syntax" or err.kind == "property" then
    return nil, envelope.error(ctx, 400, "BadRequest", err.message)
  end
  return nil, envelope.intune_error(ctx, 400, "BadRequest")
end

function ops.list(app, ctx)
  local list, q = odata.parse_query(ctx.qs)
  local want, bad_expand = expand_list(ctx, q)
  if not want then return bad_expand end
  local top = PAGE
  if q["$top"] then
    top = math.tointeger(tonumber(q["$top"]))
    if not top or top < 0 then
      return envelope.error(ctx, 400, "BadRequest", "Invalid value '" .. q["$top"] .. "' for $top query option.")
    end
    if top > PAGE then top = PAGE end
  end
  if q["$select"] ~= nil and app.select_500 then
    return envelope.error(ctx, 500, "InternalServerError", "An internal server error has occurred")
  end
  local pred, bad = listing_filter(ctx, q)
  if bad then return bad end
  local count = ""
  if q["$count"] ~= nil then
    local c = q["$count"]:lower()
    if c ~= "true" and c ~= "false" then
      return envelope.error(ctx, 400, "BadRequest", "Invalid value '" .. q["$count"] .. "' for $count query option.")
    end
    -- @odata.count is the whole filtered set, on every page
    if c == "true" then count = ',"@odata.count":' .. app.store:count_matching(pred) end
  end
  local cursor
  if q["$skiptoken"] then
    cursor = odata.parse_skiptoken(q["$skiptoken"])
    if not cursor then return envelope.intune_error(ctx, 400, "BadRequest") end
  end
  local context = "{\"@odata.context\":" .. enc(ctx.base
    .. "/$metadata#deviceManagement/windowsAutopilotDeviceIdentities")
  if top == 0 then return ok_json(ctx, 200, context .. count .. ',"value":[]}') end
  local page, more = app.store:page(cursor, top, pred)
  local parts = {}
  local keep = q["$select"] and select_set(q["$select"])
  for i, d in ipairs(page) do
    local text = expanded(app, d, M.render(d, ctx.beta), want)
    parts[i] = keep and selected(text, keep) or text
  end
  local next_link = ""
  if more then
    local link = ctx.root .. ctx.path .. "?" .. odata.with_skiptoken(list, page[#page].serialNumber)
    next_link = ',"@odata.nextLink":' .. enc(link)
  end
  return ok_json(ctx, 200, context .. count .. next_link .. ',"value":[' .. table.concat(parts, ",") .. "]}")
end

-- GET .../windowsAutopilotDeviceIdentities/$count: the count as plain text, honouring $filter.
function ops.count(app, ctx)
  local _, q = odata.parse_query(ctx.qs)
  local pred, bad = listing_filter(ctx, q)
  if bad then return bad end
  local n = app.store:count_matching(pred)
  return { status = 200, headers = envelope.headers(ctx, "text/plain"), body = tostring(n) }
end

function ops.delete(app, ctx, op)
  local d = target(app, op, true)
  if not d then
    return envelope.intune_error(ctx, 400, "BadRequest", "Cannot find device with ztd Id " .. tostring(op.id))
  end
  app.store:delete(d.id, ctx.emu)
  return no_content(ctx)
end

-- POST .../windowsAutopilotDeviceIdentities/deleteDevices `{ "serialNumbers": [...] }`: deletes every
-- device with each serial (exact match; serials are not unique) and answers a
-- deletedWindowsAutopilotDeviceState per device deleted ("accepted") or per serial not found ("failed",
-- not fatal to the others).
function ops.deleteDevices(app, ctx)
  local body, bad = json_body(ctx)
  if not body then return bad end
  for k in pairs(body) do
    if k ~= "serialNumbers" then return bad_param(ctx, k, "deleteDevices") end
  end
  local serials = body.serialNumbers
  if serials == nil or serials == cjson.null then
    return envelope.intune_error(ctx, 400, "BadRequest", "An error has occurred - serialNumbers is required")
  end
  if type(serials) ~= "table" then return bad_payload(ctx) end
  local n = 0
  for _ in pairs(serials) do n = n + 1 end
  if n ~= #serials then return bad_payload(ctx) end
  for _, v in ipairs(serials) do
    if type(v) ~= "string" then return bad_payload(ctx) end
  end
  local items = {}
  local function state(serial, id, st, msg)
    items[#items + 1] = enc({ ["@odata.type"] = "#microsoft.graph.deletedWindowsAutopilotDeviceState",
      serialNumber = serial, deviceRegistrationId = id, deletionState = st, errorMessage = msg })
  end
  for _, serial in ipairs(serials) do
    local found = serial ~= "" and app.store:current_with_serial(serial) or {}
    if #found == 0 then
      state(serial, "", "failed", "Cannot find device with serial number " .. serial)
    end
    for _, d in ipairs(found) do
      app.store:delete(d.id, ctx.emu)
      state(serial, d.id, "accepted", "")
    end
  end
  local ctxurl = ctx.base .. "/$metadata#Collection(microsoft.graph.deletedWindowsAutopilotDeviceState)"
  return ok_json(ctx, 200, '{"@odata.context":' .. enc(ctxurl) .. ',"value":['
    .. table.concat(items, ","):gsub("\\/", "/") .. "]}")
end

-- POST beta .../{id}/allowNextEnrollment (no body): "unblocks next autopilot enrollment", so a
-- userless (self-deploying, pre-provisioned) device may enrol again.
function ops.allowNextEnrollment(app, ctx, op)
  local body, bad = json_body(ctx)
  if not body then return bad end
  local k = next(body)
  if k ~= nil then return bad_param(ctx, k, "allowNextEnrollment") end
  local d = target(app, op, true)
  if not d then return not_found(ctx, op.id) end
  app.store:update(d.id, { userlessEnrollmentStatus = "allowed" }, ctx.emu)
  return no_content(ctx)
end

function ops.unassignUserFromDevice(app, ctx, op)
  local body, bad = json_body(ctx)
  if not body then return bad end
  local k = next(body)
  if k ~= nil then return bad_param(ctx, k, "unassignUserFromDevice") end
  local d = target(app, op, true)
  if not d then return not_found(ctx, op.id) end
  app.store:update(d.id, { userPrincipalName = "", addressableUserName = "" }, ctx.emu)
  return no_content(ctx)
end

function ops.assignUserToDevice(app, ctx, op)
  local body, bad = json_body(ctx)
  if not body then return bad end
  for k, v in pairs(body) do
    if k ~= "userPrincipalName" and k ~= "addressableUserName" then
      return bad_param(ctx, k, "assignUserToDevice")
    end
    if type(v) ~= "string" and v ~= cjson.null then return bad_payload(ctx) end
  end
  local upn = body.userPrincipalName
  if type(upn) ~= "string" or not upn:find("^[^@%s]+@[^@%s]+$") then
    return envelope.intune_error(ctx, 400, "BadRequest", "An error has occurred - userPrincipalName is invalid")
  end
  local d = target(app, op, true)
  if not d then return not_found(ctx, op.id) end
  local name = body.addressableUserName
  app.store:update(d.id, { userPrincipalName = upn, addressableUserName = type(name) == "string" and name or "" },
    ctx.emu)
  return no_content(ctx)
end

function ops.updateDeviceProperties(app, ctx, op)
  local body, bad = json_body(ctx)
  if not body then return bad end
  local allowed, fields = UPDATABLE[op.ver], {}
  for k, v in pairs(body) do
    if not allowed[k] then return bad_param(ctx, k, "updateDeviceProperties") end
    if v == cjson.null then v = "" end
    if type(v) ~= "string" then return bad_payload(ctx) end
    fields[k] = v
  end
  local d = target(app, op, true)
  if not d then return not_found(ctx, op.id) end
  app.store:update(d.id, fields, ctx.emu)
  return no_content(ctx)
end

local function sync_time(app, t)
  if not t then return "0001-01-01T00:00:00Z" end
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(app.wall_start + t))
end

function ops.settings(app, ctx)
  local s = app.sync
  local status = "unknown"
  if s.last then status = ctx.emu < s.last + app.sync_seconds and "inProgress" or "completed" end
  local last_done = s.last and ctx.emu >= s.last + app.sync_seconds and s.last + app.sync_seconds or s.done
  return ok_json(ctx, 200, cjson.encode({
    ["@odata.context"] = ctx.base .. "/$metadata#deviceManagement/windowsAutopilotSettings/$entity",
    id = s.id, syncStatus = status,
    lastSyncDateTime = sync_time(app, last_done),
    lastManualSyncTriggerDateTime = sync_time(app, s.last),
  }))
end

function ops.sync(app, ctx)
  local s, now = app.sync, ctx.emu
  if s.last and now < s.last + app.sync_seconds then
    return envelope.intune_error(ctx, 409, "Conflict", "An error has occurred - A sync is already in progress")
  end
  if s.last and now < s.last + app.sync_cooldown then
    local resp = envelope.intune_error(ctx, 429, "TooManyRequests",
      "An error has occurred - Sync was requested less than 10 minutes ago")
    resp.headers["Retry-After"] = tostring(math.ceil(app.clock:to_real(s.last + app.sync_cooldown - now)))
    return resp
  end
  s.done = s.last and s.last + app.sync_seconds or s.done
  s.last = now
  s.count = (s.count or 0) + 1
  return no_content(ctx)
end

--- Performs an operation (authorization, throttling and faults already handled).
-- @tparam table app the tenant
-- @tparam table ctx the request context (method, path, qs, body, emu, base, root, beta, rid, crid)
-- @tparam table op from `route`
-- @treturn table resp `{ status, headers, body }`
function M.run(app, ctx, op)
  return ops[op.name](app, ctx, op)
end

--- The 403 answer for a token without the permission.
-- @tparam table ctx
-- @tparam string scopes the scopes that would do
-- @treturn table resp
function M.forbidden(ctx, scopes)
  return envelope.intune_error(ctx, 403, "Forbidden", "Application is not authorized to perform this operation. "
    .. "Application must have one of the following scopes: " .. scopes)
end

return M
