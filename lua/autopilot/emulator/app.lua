--- The emulated tenant: the app object the emulator host calls (doc/INTERNALS.md, "Tenant app
-- interface"). Routes identity-platform paths to autopilot.emulator.identity and Graph paths
-- through this pipeline:
--
-- 1. route the path (a bad route is answered after authentication, as Graph does);
-- 2. draw a fault (seeded); a "revoke" fault revokes every token before step 3;
-- 3. authenticate (401) and, per operation, authorize (403, Intune-wrapped);
-- 4. count an early retry (see autopilot.emulator.throttle), then throttle (429);
-- 5. answer an injected 500/502/503 or stall, else run the operation; a 504 replaces the answer
--    of an operation that ran; reset/truncate/malformed spoil the answer;
-- 6. add latency, count, log.
--
-- Time: the host's monotonic `req.now` drives an emulated clock (autopilot.emulator.clock)
-- running `time_scale` times as fast. Throttle windows, the sync cool-down and eventual
-- consistency run on emulated time. Retry-After headers carry REAL seconds (emulated seconds
-- divided by the scale), so a client that honours them waits the right real time: with
-- time_scale 10 a 10 s wait is sent as "Retry-After: 1". Latency and stall_seconds are real time.
-- The identity platform gets emulated time too, so token lifetimes shrink with the scale.
--
-- Faults, throttling and latency apply to Graph paths; identity paths get latency only.
--
-- Config keys read here (identity reads its own: tenant, client_id, client_secret, apps, users,
-- token_lifetime, device_code, ...): seed (1), devices (100, or an array of device objects),
-- devices_file (JSON or CSV), domain, latency, throttle, faults, consistency_delay (0),
-- time_scale (1), log_max (100000), sync_seconds (60), sync_cooldown (600), scheme ("http"),
-- admin_key (generated; false: no control path, see autopilot.emulator.control).
-- @module autopilot.emulator.app
local batch = require "autopilot.emulator.batch"
local clock_mod = require "autopilot.emulator.clock"
local control = require "autopilot.emulator.control"
local envelope = require "autopilot.emulator.envelope"
local faults_mod = require "autopilot.emulator.faults"
local generator = require "autopilot.emulator.generator"
local graph = require "autopilot.emulator.graph"
local identity = require "autopilot.emulator.identity"
local latency_mod = require "autopilot.emulator.latency"
local log_mod = require "autopilot.emulator.log"
local random = require "autopilot.emulator.random"
local store_mod = require "autopilot.emulator.store"
local throttle_mod = require "autopilot.emulator.throttle"
local host_clock = require "autopilot.emulator.host" -- its wall clock, for HTTP-dates

local M = {}

local App = {}
App.__index = App

-- Keys app:configure handles itself; every other key goes to identity.configure.
local OWN = { latency = true, throttle = true, faults = true, consistency_delay = true, time_scale = true,
  advance = true, log_max = true, sync_seconds = true, sync_cooldown = true, scheme = true, select_500 = true }

local STATUS_FAULT = { ["429"] = 429, ["500"] = 500, ["502"] = 502, ["503"] = 503, ["504"] = 504 }
local FAULT_TEXT = { [429] = { "TooManyRequests", "Please retry again later." },
  [500] = { "InternalServerError", "An internal server error has occurred" },
  [502] = { "BadGateway", "Bad gateway" }, [503] = { "ServiceUnavailable", "Service is unavailable" },
  [504] = { "GatewayTimeout", "Gateway timeout" } }

local function check_number(name, v, min)
  if v ~= nil and (type(v) ~= "number" or v < min or v ~= v) then
    error("autopilot.emulator: " .. name .. " must be a number >= " .. min, 0)
  end
end

local function load_devices(config, seed)
  if config.devices_file ~= nil then
    if type(config.devices_file) ~= "string" then error("autopilot.emulator: devices_file must be a path", 0) end
    local list, err = generator.load(config.devices_file, seed)
    if not list then error("autopilot.emulator: " .. err, 0) end
    return list
  end
  local d = config.devices
  if type(d) == "table" then
    local list, err = generator.parse(require("cjson").encode(d), seed)
    if not list then error("autopilot.emulator: devices: " .. err, 0) end
    return list
  end
  check_number("devices", d, 0)
  return generator.generate(math.floor(d or 100), seed, config.domain or config.tenant_domain)
end

--- Creates the tenant.
-- @tparam table config see the module description (raises on a bad value)
-- @tparam number now the host's monotonic seconds
-- @treturn table the app
function M.new(config, now)
  config = config or {}
  -- The server state holds little but this tenant; generational collection keeps a full request
  -- log from making every request pay for traversing it.
  collectgarbage("generational")
  now = now or 0
  local seed = config.seed or 1
  check_number("seed", seed, -math.huge)
  check_number("time_scale", config.time_scale, 1e-9)
  check_number("consistency_delay", config.consistency_delay, 0)
  check_number("log_max", config.log_max, 1)
  check_number("sync_seconds", config.sync_seconds, 0)
  check_number("sync_cooldown", config.sync_cooldown, 0)
  local store, err = store_mod.new(load_devices(config, seed))
  if not store then error("autopilot.emulator: " .. err, 0) end
  store:set_delay(config.consistency_delay or 0)
  local self = setmetatable({
    seed = seed,
    store = store,
    clock = clock_mod.new(now, config.time_scale or 1),
    wall_start = os.time(),
    ids = random.new(seed, "request-ids"),
    rng_batch = random.new(seed, "batch"),
    rng_throttle = random.new(seed, "retry-after"),
    throttle = throttle_mod.new(config.throttle),
    faults = faults_mod.new(config.faults, seed),
    latency = latency_mod.new(config.latency, seed),
    log = log_mod.new(config.log_max and math.floor(config.log_max) or 100000),
    counters = {},
    requests = 0,
    sync = {},
    sync_seconds = config.sync_seconds or 60,
    sync_cooldown = config.sync_cooldown or 600,
    scheme = config.scheme or "http",
    -- administrators report (2021, July 2026, v1.0 and beta) HTTP 500 for $select on this collection
    select_500 = config.select_500 ~= false,
    admin_key = control.key(config.admin_key),
  }, App)
  self.sync.id = self.ids:guid()
  -- identity keeps time on the emulated clock too (token expiry follows time_scale)
  self.idp = identity.new(config, random.new(seed, "identity"), self.clock:now(now))
  return self
end

-- Identity-platform paths (login.microsoftonline.com, managed identity): Graph's version
-- prefixes first, as they are the hot path.
local function is_identity(path, target)
  local first = path:match("^/([^/]*)")
  if first == "v1.0" or first == "beta" then return false end
  return identity.match(target)
end

--- Counts one answer per endpoint and status.
-- @local
-- @tparam string endpoint
-- @tparam integer status
function App:count(endpoint, status)
  local c = self.counters[endpoint]
  if not c then c = {}; self.counters[endpoint] = c end
  local k = tostring(status)
  c[k] = (c[k] or 0) + 1
end

-- Log entries are arrays (cheap to keep 100000 of); LOG_FIELDS names their slots for `state`.
local LOG_FIELDS = { "time", "real", "method", "path", "status", "endpoint", "client-request-id", "request-id",
  "retry-attempt", "app", "fault", "early", "batch", "delay" }

--- Counts and logs one answer.
-- @local
-- @tparam table ctx the request context
-- @tparam string endpoint
-- @tparam table resp
-- @tparam[opt] string fault the fault applied
-- @tparam[opt] string batch_rid the batch's request-id, for its items
function App:record(ctx, endpoint, resp, fault, batch_rid)
  local status = resp.fault == "stall" and 0 or resp.status -- a stall never answers
  self:count(endpoint, status)
  local early = ctx.early
  if early == nil then early = "" end
  self.log:push({ ctx.emu, ctx.now, ctx.method, ctx.logpath, status, endpoint, ctx.crid or "", ctx.rid or "",
    ctx.retry_attempt or "", ctx.app_id or "", fault or "", early, batch_rid or "", resp.delay or 0 })
end

local function log_entry(e)
  local out = {}
  for i, name in ipairs(LOG_FIELDS) do
    local v = e[i]
    if v ~= "" then out[name] = v end
  end
  return out
end

--- The Retry-After header for a wait of `wait` emulated seconds, in the configured mix of forms.
-- Every form rounds up, never down, and the time returned is what the header *says*, so a client is
-- judged against what it was told.
-- @local
-- @tparam number wait emulated seconds
-- @tparam number emu emulated now
-- @treturn string|nil the header value (nil: send none)
-- @treturn number|nil the emulated time a client honouring it comes back
function App:retry_after(wait, emu)
  local form = self.throttle:form(self.rng_throttle)
  local real = self.clock:to_real(wait + self.throttle.retry_after_extra)
  local scale = self.clock.scale
  if form == "absent" then return nil, nil end
  if form == "decimal" then
    local v = math.ceil(real * 1000) / 1000
    return string.format("%.3f", v), emu + v * scale
  end
  if form == "date" then
    local wall = host_clock.epoch()
    local at = math.ceil(wall + real)
    if at - wall < 1 then at = at + 1 end -- an HTTP-date has whole seconds: at least one ahead
    return os.date("!%a, %d %b %Y %H:%M:%S GMT", at), emu + (at - wall) * scale
  end
  local secs = math.max(1, math.ceil(real))
  if form == "list" then -- "N,M": N the real wait (the Graph SDKs read the first value), M a longer hint
    return string.format("%d,%d", secs, math.max(120, 2 * secs)), emu + secs * scale
  end
  return tostring(secs), emu + secs * scale
end

local function spoil(resp, kind)
  if kind == "malformed" then
    if resp.body and resp.body ~= "" then
      resp.body = resp.body:sub(1, math.max(1, #resp.body // 2)) .. '",}'
    else
      resp.status = 500
      resp.headers["Content-Type"] = envelope.JSON
      resp.body = '{"error":{"code":"InternalServerError","message":'
    end
  elseif kind == "reset" then
    resp.fault = (resp.body and resp.body ~= "") and "reset" or "drop"
  elseif kind == "truncate" then
    resp.fault = (resp.body and resp.body ~= "") and "truncate" or "drop"
  end
  return resp
end

--- Uncounts a fault drawn for a request answered before the fault could apply.
-- @local
-- @tparam string|nil fault
function App:unapplied(fault)
  if fault and fault ~= "revoke" then self.faults:unapply(fault) end
end

--- Steps 3 (permission) to 5 for one operation (a request, or an item of a batch).
-- @local
-- @tparam table ctx the request context (authenticated)
-- @tparam table op from graph.route
-- @tparam string|nil fault the drawn fault
-- @tparam boolean in_batch items take status faults only
-- @treturn table resp
function App:run_op(ctx, op, fault, in_batch)
  local ok, scopes = graph.permitted(ctx.claims, op)
  if not ok then
    self:unapplied(fault)
    return graph.forbidden(ctx, scopes)
  end
  local key = ctx.app_id .. " " .. ctx.method .. " " .. ctx.logpath
  local retry = self.throttle:retry_check(ctx.own_crid, key, ctx.emu)
  if retry ~= nil then ctx.early = retry end
  local wait = self.throttle:admit(ctx.app_id, graph.is_write(ctx.method), ctx.emu)
  if wait then
    self:unapplied(fault)
    local resp = { status = 429, headers = envelope.headers(ctx, envelope.JSON), body = envelope.throttled_body(ctx) }
    local value, back = self:retry_after(wait, ctx.emu)
    if value then
      resp.headers["Retry-After"] = value
      self.throttle:remember(ctx.own_crid, key, back, ctx.emu)
    end
    return resp
  end
  if in_batch and fault and not STATUS_FAULT[fault] then fault = nil end
  local st = fault and STATUS_FAULT[fault]
  if st and st ~= 504 then
    local t = FAULT_TEXT[st]
    local resp
    if st == 429 then -- a targeted throttle: the throttle's own shape, whatever the budget says
      resp = { status = 429, headers = envelope.headers(ctx, envelope.JSON), body = envelope.throttled_body(ctx) }
    else
      resp = envelope.intune_error(ctx, st, t[1], t[2])
    end
    if (st == 503 or st == 429) and self.faults.retry_after then
      resp.headers["Retry-After"] = tostring(self.faults.retry_after)
    end
    return resp
  end
  if fault == "stall" then
    return { status = 504, headers = {}, body = "", fault = "stall", delay = self.faults.stall_seconds }
  end
  local resp = graph.run(self, ctx, op)
  if st == 504 then
    return envelope.error(ctx, 504, FAULT_TEXT[504][1], FAULT_TEXT[504][2])
  end
  if fault then spoil(resp, fault) end
  return resp
end

--- A context for one Graph request or batch item.
-- @local
-- @tparam number req_now host seconds
-- @tparam number emu emulated seconds
-- @tparam string method
-- @tparam string target raw path and query
-- @tparam table headers lower-case names
-- @tparam string body
-- @tparam[opt] table outer the batch's context, for an item
-- @tparam[opt] string scheme "http" | "https"
-- @treturn table ctx
function App:context(req_now, emu, method, target, headers, body, outer, scheme)
  local qpos = target:find("?", 1, true)
  local path = qpos and target:sub(1, qpos - 1) or target
  local qs = qpos and target:sub(qpos + 1) or ""
  local ctx = {
    now = req_now, emu = emu, method = method, path = path, qs = qs, headers = headers, body = body,
    crid = headers["client-request-id"], retry_attempt = headers["retry-attempt"],
  }
  -- a batch item is told apart from its siblings by its own id only, never the batch's
  ctx.own_crid = ctx.crid
  ctx.logpath = qs ~= "" and (path .. "?" .. qs) or path
  if outer then
    ctx.rid, ctx.root, ctx.claims, ctx.app_id = outer.rid, outer.root, outer.claims, outer.app_id
    ctx.crid = ctx.crid or outer.crid
  else
    ctx.rid = self.ids:guid()
    ctx.root = (scheme or self.scheme) .. "://" .. (headers.host or "127.0.0.1")
  end
  local ver = path:match("^/([^/]+)")
  ctx.ver = ver and ver:lower() or ""
  ctx.beta = ctx.ver == "beta"
  ctx.base = ctx.root .. "/" .. (ver or "")
  ctx.fef_url = envelope.FEF .. (path:match("^/[^/]+(/.*)$") or "") .. "?api-version=2021-01-22"
    .. (qs ~= "" and ("&" .. qs) or "")
  return ctx
end

local function fault_target(op)
  return op and op.id
end

--- Answers one HTTP request (called by the host for every request).
-- @tparam table req `{ method, target, headers, body, now }` (doc/INTERNALS.md)
-- @treturn table resp `{ status, headers, body, delay?, fault? }`
function App:handle(req)
  local target = req.target or "/"
  local path = target:match("^[^?]*")
  if control.match(path) then return control.handle(self, req, path) end
  local now = req.now or 0
  local emu = self.clock:now(now)
  self.store:settle(emu)
  self.requests = self.requests + 1
  local method = (req.method or "GET"):upper()
  local headers = req.headers or {}
  if is_identity(path, target) then
    local resp = identity.handle(self.idp, req, emu)
    resp.delay = (resp.delay or 0) + (self.latency:sample() or 0)
    if resp.delay == 0 then resp.delay = nil end
    self:record({ emu = emu, now = now, method = method, logpath = path, crid = headers["client-request-id"],
      retry_attempt = headers["retry-attempt"] }, "identity", resp)
    return resp
  end
  local ctx = self:context(now, emu, method, target, headers, req.body or "", nil, req.scheme)
  local op, rerr = graph.route(method, ctx.path)
  local endpoint = op and op.name or "unknown"
  local fault = op and self.faults:draw(fault_target(op))
  if fault == "revoke" then identity.revoke(self.idp, emu) end
  local resp
  local claims, aerr = identity.authorize(self.idp, headers["authorization"], emu)
  if not claims then
    self:unapplied(fault)
    if fault ~= "revoke" then fault = nil end
    resp = envelope.error(ctx, aerr.status or 401, aerr.code or "InvalidAuthenticationToken",
      aerr.message or "Access token validation failure.")
    if resp.status == 401 then
      resp.headers["WWW-Authenticate"] = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
        .. 'common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
    end
  elseif not op then
    resp = envelope.error(ctx, rerr.status, rerr.code, rerr.message)
    if rerr.allow then resp.headers["Allow"] = rerr.allow end
  else
    ctx.claims = claims
    ctx.app_id = tostring(claims.appid or claims.azp or "unknown")
    if op.name == "batch" then
      resp = self:run_batch(ctx, fault)
    else
      resp = self:run_op(ctx, op, fault, false)
    end
  end
  if resp.fault ~= "stall" then
    local d = self.latency:sample()
    if d then resp.delay = (resp.delay or 0) + d end
  end
  self:record(ctx, endpoint, resp, fault)
  return resp
end

--- Runs a `$batch` (the outer request is authenticated; each item goes through `run_op`).
-- @local
-- @tparam table ctx
-- @tparam string|nil fault the fault drawn for the outer request
-- @treturn table resp
function App:run_batch(ctx, fault)
  if fault and STATUS_FAULT[fault] and fault ~= "504" then
    local t = FAULT_TEXT[STATUS_FAULT[fault]]
    return envelope.intune_error(ctx, STATUS_FAULT[fault], t[1], t[2])
  end
  if fault == "stall" then
    return { status = 504, headers = {}, body = "", fault = "stall", delay = self.faults.stall_seconds }
  end
  local function make(outer, method, url, hdrs, body)
    if url:find("^%a[%w+.-]*:") then return nil, "Batch request url must be relative: " .. url end
    if url:sub(1, 1) ~= "/" then url = "/" .. url end
    local lower = {}
    for k, v in pairs(hdrs) do if type(k) == "string" then lower[k:lower()] = tostring(v) end end
    return self:context(outer.now, outer.emu, method, "/" .. outer.ver .. url, lower, body, outer)
  end
  local function run_item(_, outer, ictx)
    local op, rerr = graph.route(ictx.method, ictx.path)
    local resp
    local ifault
    if not op then
      resp = envelope.error(ictx, rerr.status, rerr.code, rerr.message)
    elseif op.name == "batch" then
      resp = envelope.error(ictx, 400, "BadRequest", "A batch cannot hold a batch.")
    else
      ifault = self.faults:draw(fault_target(op))
      if ifault == "revoke" then identity.revoke(self.idp, outer.emu); ifault = nil end
      if ifault and not STATUS_FAULT[ifault] then
        self.faults.injected[ifault] = self.faults.injected[ifault] - 1 -- not applicable inside a batch
        ifault = nil
      end
      resp = self:run_op(ictx, op, ifault, true)
    end
    self:record(ictx, op and op.name or "unknown", resp, ifault, outer.rid)
    return resp
  end
  local resp = batch.handle(self, ctx, run_item, make)
  if fault == "504" then return envelope.error(ctx, 504, FAULT_TEXT[504][1], FAULT_TEXT[504][2]) end
  if fault then spoil(resp, fault) end
  return resp
end

--- The default app's credentials and the control path's admin key.
-- @treturn table `{ tenant =, client_id =, client_secret =, admin_key = string|false, ... }`
function App:info()
  local info = identity.info(self.idp)
  info.admin_key = self.admin_key
  return info
end

local function clean(d)
  local c = {}
  for k, v in pairs(d) do if k:sub(1, 1) ~= "_" then c[k] = v end end
  if c.deviceAccountPassword and c.deviceAccountPassword ~= "" then c.deviceAccountPassword = "********" end
  return c
end

--- What a test can read: devices, counters, log. Never a token or secret.
-- @tparam[opt] table arg `{ devices = false }` omits the device list; `{ device = id }` returns one
-- device (current fields, `visible` = what GET sees, `writes`); `{ log = n }` keeps the newest n
-- log entries, `{ log = false }` none
-- @tparam[opt] number now the host's monotonic seconds
-- @treturn table `{ now, time_scale, device_count, devices?, device?, counters, requests, throttled,
-- early_retries, faults, writes, pending_writes, sync, log, log_total, log_dropped, identity }`
function App:state(arg, now)
  arg = type(arg) == "table" and arg or {}
  local emu = self.clock:now(now or 0)
  if now then self.store:settle(emu) end
  local st = {
    now = emu, time_scale = self.clock.scale, device_count = self.store.count, counters = self.counters,
    requests = self.requests, throttled = self.throttle.throttled, early_retries = self.throttle.early,
    faults = self.faults.injected, writes = self.store.writes, pending_writes = self.store:pending_count(),
    sync = { count = self.sync.count or 0, last = self.sync.last },
    log_total = self.log.total, log_dropped = self.log:dropped(),
  }
  if arg.devices ~= false and arg.device == nil then
    local list = {}
    for i, d in ipairs(self.store:all_current()) do list[i] = clean(d) end
    st.devices = list
  end
  if arg.device ~= nil then
    local id = tostring(arg.device)
    local cur, vis = self.store:get_current(id), self.store:get(id)
    st.device = cur and clean(cur) or nil
    st.visible = vis and clean(vis) or nil
    st.device_writes = self.store.writes[id] or 0
  end
  if arg.log ~= false then
    local list = self.log:list(type(arg.log) == "number" and arg.log or nil)
    for i, e in ipairs(list) do list[i] = log_entry(e) end
    st.log = list
  end
  st.identity = identity.state(self.idp)
  return st
end

--- Changes models at run time. Every value is checked first: a bad one raises and changes nothing.
-- @tparam table arg any of latency, throttle, faults, consistency_delay, time_scale, advance
-- (emulated seconds to jump), log_max, sync_seconds, sync_cooldown, scheme, select_500 (false: $select is
-- honoured instead of answered 500 as the service does); other keys go to identity
-- @tparam number now the host's monotonic seconds
-- @treturn boolean true
function App:configure(arg, now)
  if type(arg) ~= "table" then error("autopilot.emulator: configure expects a table", 0) end
  now = now or 0
  check_number("consistency_delay", arg.consistency_delay, 0)
  check_number("time_scale", arg.time_scale, 1e-9)
  check_number("advance", arg.advance, 0)
  check_number("log_max", arg.log_max, 1)
  check_number("sync_seconds", arg.sync_seconds, 0)
  check_number("sync_cooldown", arg.sync_cooldown, 0)
  if arg.select_500 ~= nil and type(arg.select_500) ~= "boolean" then
    error("autopilot.emulator: select_500 must be a boolean", 0)
  end
  if arg.scheme ~= nil and arg.scheme ~= "http" and arg.scheme ~= "https" then
    error("autopilot.emulator: scheme must be \"http\" or \"https\"", 0)
  end
  -- trial objects raise on bad settings before anything changes
  if arg.latency ~= nil then latency_mod.new(arg.latency, 0) end
  if arg.throttle ~= nil then throttle_mod.new(arg.throttle) end
  if arg.faults ~= nil then faults_mod.new(arg.faults, 0) end
  local rest
  for k, v in pairs(arg) do
    if not OWN[k] then rest = rest or {}; rest[k] = v end
  end
  if rest then identity.configure(self.idp, rest, self.clock:now(now)) end
  if arg.latency ~= nil then self.latency:configure(arg.latency) end
  if arg.throttle ~= nil then self.throttle:configure(arg.throttle) end
  if arg.faults ~= nil then self.faults:configure(arg.faults) end
  if arg.time_scale then self.clock:set_scale(now, arg.time_scale) end
  if arg.advance then self.clock:advance(arg.advance) end
  if arg.consistency_delay then self.store:set_delay(arg.consistency_delay) end
  if arg.log_max then self.log:resize(math.floor(arg.log_max)) end
  if arg.sync_seconds then self.sync_seconds = arg.sync_seconds end
  if arg.sync_cooldown then self.sync_cooldown = arg.sync_cooldown end
  if arg.scheme then self.scheme = arg.scheme end
  if arg.select_500 ~= nil then self.select_500 = arg.select_500 end
  self.store:settle(self.clock:now(now))
  return true
end

return M
