--- Intune's request limits, per fixed window of emulated time (20 s by default).
-- Budgets, per window: writes (POST/PUT/PATCH/DELETE) 200 per tenant and 100 per app; all
-- requests 2000 per tenant and 1000 per app. A refused request spends no budget. The wait told
-- to the client is the rest of the window.
--
-- Early retries: every 429 records when its Retry-After ends, under the request's
-- client-request-id and under app + method + path with query. A later request is a retry of it
-- when it carries the same client-request-id, or (failing that) comes from the same app with the
-- same method, path and query (a `Retry-Attempt` header is not needed, but is logged). A retry arriving before
-- that time is counted in `early_retries`. Records are dropped once their time has passed.
-- 429s sent without a Retry-After set no time and so count no early retry.
-- @module autopilot.emulator.throttle
local M = {}

local Throttle = {}
Throttle.__index = Throttle

M.DEFAULTS = { window = 20, tenant_writes = 200, app_writes = 100, tenant_requests = 2000, app_requests = 1000 }

--- A new throttle, off unless `cfg` says so.
-- @tparam[opt] boolean|table cfg true, false, or `{ enabled =, window =, tenant_writes =, app_writes =,
-- tenant_requests =, app_requests =, retry_after = { integer =, decimal =, date =, absent = } }`
-- (retry_after: relative weights of the header forms; default integer only)
-- @treturn table the throttle
function M.new(cfg)
  local self = setmetatable({ enabled = false, window_start = -math.huge, tenant_w = 0, tenant_r = 0,
    app_w = {}, app_r = {}, by_crid = {}, by_key = {}, early = 0, throttled = 0, records = 0 }, Throttle)
  for k, v in pairs(M.DEFAULTS) do self[k] = v end
  self.mix = { { "integer", 1 } }
  self:configure(cfg)
  return self
end

local FORMS = { integer = true, decimal = true, date = true, absent = true }

--- Changes settings; keys absent from `cfg` keep their values.
-- @tparam boolean|table|nil cfg see `new`
function Throttle:configure(cfg)
  if cfg == nil then return end
  if type(cfg) == "boolean" then self.enabled = cfg; return end
  if type(cfg) ~= "table" then error("throttle: expected a boolean or a table", 0) end
  self.enabled = cfg.enabled ~= false
  for k in pairs(M.DEFAULTS) do
    if cfg[k] ~= nil then
      if type(cfg[k]) ~= "number" or cfg[k] <= 0 then error("throttle." .. k .. ": expected a positive number", 0) end
      self[k] = cfg[k]
    end
  end
  for k in pairs(cfg) do
    if M.DEFAULTS[k] == nil and k ~= "enabled" and k ~= "retry_after" then
      error("throttle: unknown key '" .. tostring(k) .. "'", 0)
    end
  end
  if cfg.retry_after ~= nil then
    local mix = {}
    if type(cfg.retry_after) == "string" then cfg.retry_after = { [cfg.retry_after] = 1 } end
    for _, form in ipairs({ "integer", "decimal", "date", "absent" }) do
      local w = cfg.retry_after[form]
      if w ~= nil and (type(w) ~= "number" or w < 0) then
        error("throttle.retry_after." .. form .. ": expected a weight", 0)
      end
      if w and w > 0 then mix[#mix + 1] = { form, w } end
    end
    for k in pairs(cfg.retry_after) do
      if not FORMS[k] then error("throttle.retry_after: unknown form '" .. tostring(k) .. "'", 0) end
    end
    if #mix == 0 then error("throttle.retry_after: no form has a weight", 0) end
    self.mix = mix
  end
end

--- Picks the Retry-After form for one 429.
-- @tparam table rng a random stream
-- @treturn string "integer" | "decimal" | "date" | "absent"
function Throttle:form(rng)
  if #self.mix == 1 then return self.mix[1][1] end
  local total = 0
  for _, m in ipairs(self.mix) do total = total + m[2] end
  local x = rng:float() * total
  for _, m in ipairs(self.mix) do
    x = x - m[2]
    if x < 0 then return m[1] end
  end
  return self.mix[#self.mix][1]
end

--- Spends budget for one request, or refuses it.
-- @tparam string app the caller's app id
-- @tparam boolean write whether the request is a write
-- @tparam number now emulated seconds
-- @treturn number|nil nil when allowed; else the emulated seconds until the window ends
function Throttle:admit(app, write, now)
  if not self.enabled then return nil end
  if now >= self.window_start + self.window then
    self.window_start = now - (now % self.window)
    self.tenant_w, self.tenant_r, self.app_w, self.app_r = 0, 0, {}, {}
  end
  local ar, aw = self.app_r[app] or 0, self.app_w[app] or 0
  if self.tenant_r >= self.tenant_requests or ar >= self.app_requests
      or (write and (self.tenant_w >= self.tenant_writes or aw >= self.app_writes)) then
    self.throttled = self.throttled + 1
    return self.window_start + self.window - now
  end
  self.tenant_r, self.app_r[app] = self.tenant_r + 1, ar + 1
  if write then self.tenant_w, self.app_w[app] = self.tenant_w + 1, aw + 1 end
  return nil
end

--- Remembers a 429 so its early retries can be counted.
-- @tparam string|nil crid the request's client-request-id
-- @tparam string key app .. " " .. method .. " " .. path and query
-- @tparam number until_ emulated time the Retry-After ends
-- @tparam number now emulated seconds
function Throttle:remember(crid, key, until_, now)
  if crid then self.by_crid[crid] = until_ end
  self.by_key[key] = until_
  self.records = self.records + 1
  if self.records > M.RECORDS_MAX then
    self:prune(now)
    -- all still live: forget them rather than sweep on every 429
    if self.records > M.RECORDS_MAX / 2 then self.by_crid, self.by_key, self.records = {}, {}, 0 end
  end
end

M.RECORDS_MAX = 20000 -- records kept for early-retry detection; past it, expired ones go

--- Drops records whose time has passed.
-- @tparam number now emulated seconds
function Throttle:prune(now)
  local n = 0
  for _, map in ipairs({ self.by_crid, self.by_key }) do
    for k, t in pairs(map) do
      if t <= now then map[k] = nil else n = n + 1 end
    end
  end
  self.records = n
end

--- Checks whether a request retries a throttled one too early; counts it if so.
-- @tparam string|nil crid
-- @tparam string key as for `remember`
-- @tparam number now emulated seconds
-- @treturn boolean|nil true for an early retry, false for a timely one, nil for no retry
function Throttle:retry_check(crid, key, now)
  if self.records == 0 then return nil end
  local t = crid and self.by_crid[crid]
  if t then
    self.by_crid[crid] = nil
  else
    t = self.by_key[key]
  end
  if not t then return nil end
  self.by_key[key] = nil
  if now < t then
    self.early = self.early + 1
    return true
  end
  return false
end

return M
