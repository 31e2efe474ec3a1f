--- Intune's request limits, per window of emulated time (20 s by default), under one of three models.
-- Budgets, per window: writes (POST/PUT/PATCH/DELETE) 200 per tenant and 100 per app; all
-- requests 2000 per tenant and 1000 per app. A refused request spends no budget. Intune does not
-- document its algorithm, so the model is a setting (`model`):
--
-- - "fixed" (default): windows start at multiples of `window`; the wait told is the rest of the window.
-- - "sliding": at most the limit of *arrivals* in any `window`; the wait is until the oldest counted
--   arrival ages out.
-- - "bucket": a token bucket per budget, capacity the limit, refilled continuously at limit / window;
--   the wait is until one token is back.
--
-- Early retries: every 429 that carried a Retry-After records when the wait *it sent* ends (the
-- HTTP-date, or the first value of a comma list), under the request's client-request-id and under
-- app + method + path with query. A later request is a retry of it when it carries the same
-- client-request-id, or (failing that) comes from the same app with the same method, path and query (a
-- `Retry-Attempt` header is not needed, but is logged). A retry arriving before that time is counted in
-- `early_retries`, even if the budget would have admitted it. 429s sent without a Retry-After set no time
-- and so count no early retry. Records are dropped once their time has passed.
-- @module autopilot.emulator.throttle
local M = {}

local Throttle = {}
Throttle.__index = Throttle

M.DEFAULTS = { window = 20, tenant_writes = 200, app_writes = 100, tenant_requests = 2000, app_requests = 1000 }
M.MODELS = { fixed = true, sliding = true, bucket = true }

-- One budget's accounting under each model: `wait(c, limit, window, now)` is nil when one more request
-- fits, else the emulated seconds until it would; `spend(c, limit, window, now)` counts one.
local MODEL = {}

MODEL.fixed = {
  new = function() return { start = -math.huge, n = 0 } end,
  wait = function(c, limit, window, now)
    if now >= c.start + window then c.start, c.n = now - (now % window), 0 end
    if c.n < limit then return nil end
    return c.start + window - now
  end,
  spend = function(c) c.n = c.n + 1 end,
}

MODEL.sliding = { -- arrivals kept oldest first in q[head .. tail]
  new = function() return { q = {}, head = 1, tail = 0 } end,
  wait = function(c, limit, window, now)
    while c.head <= c.tail and c.q[c.head] <= now - window do
      c.q[c.head] = nil
      c.head = c.head + 1
    end
    if c.tail - c.head + 1 < limit then return nil end
    return c.q[c.tail - limit + 1] + window - now
  end,
  spend = function(c, _, _, now)
    c.tail = c.tail + 1
    c.q[c.tail] = now
  end,
}

MODEL.bucket = {
  new = function() return { tokens = nil, at = 0 } end,
  wait = function(c, limit, window, now)
    local rate = limit / window
    c.tokens = math.min(limit, (c.tokens or limit) + math.max(0, now - c.at) * rate)
    c.at = now
    if c.tokens >= 1 then return nil end
    return (1 - c.tokens) / rate
  end,
  spend = function(c) c.tokens = c.tokens - 1 end,
}

local function fresh_counters(self)
  self.tenant_w, self.tenant_r, self.app_w, self.app_r = MODEL[self.model].new(), MODEL[self.model].new(), {}, {}
end

--- A new throttle, off unless `cfg` says so.
-- @tparam[opt] boolean|table cfg true, false, or `{ enabled =, model = "fixed"|"sliding"|"bucket", window =,
-- tenant_writes =, app_writes =, tenant_requests =, app_requests =,
-- retry_after = { integer =, decimal =, date =, list =, absent = }, retry_after_extra = seconds }`
-- (retry_after: relative weights of the header forms; default integer only; a string names one form;
-- retry_after_extra: emulated seconds added to every Retry-After, as a service asking for more than its
-- window needs, default 0)
-- @treturn table the throttle; raises a message naming the key on a bad setting
function M.new(cfg)
  local self = setmetatable({ enabled = false, model = "fixed", retry_after_extra = 0, by_crid = {}, by_key = {},
    early = 0, throttled = 0, records = 0 }, Throttle)
  for k, v in pairs(M.DEFAULTS) do self[k] = v end
  fresh_counters(self)
  self.mix = { { "integer", 1 } }
  self:configure(cfg)
  return self
end

local FORM_ORDER = { "integer", "decimal", "date", "list", "absent" }
local FORMS = {}
for _, f in ipairs(FORM_ORDER) do FORMS[f] = true end
--- The Retry-After forms a 429 can take (a set).
M.FORMS = FORMS

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
  if cfg.retry_after_extra ~= nil then
    local x = cfg.retry_after_extra
    if type(x) ~= "number" or x ~= x or x < 0 or x == math.huge then
      error("throttle.retry_after_extra: expected seconds >= 0", 0)
    end
    self.retry_after_extra = x
  end
  if cfg.model ~= nil then
    if not M.MODELS[cfg.model] then error("throttle.model: expected \"fixed\", \"sliding\" or \"bucket\"", 0) end
    if cfg.model ~= self.model then
      self.model = cfg.model
      fresh_counters(self) -- another model's accounting starts from a full budget
    end
  end
  for k in pairs(cfg) do
    if M.DEFAULTS[k] == nil and k ~= "enabled" and k ~= "retry_after" and k ~= "model"
        and k ~= "retry_after_extra" then
      error("throttle: unknown key '" .. tostring(k) .. "'", 0)
    end
  end
  if cfg.retry_after ~= nil then
    local mix = {}
    if type(cfg.retry_after) == "string" then cfg.retry_after = { [cfg.retry_after] = 1 } end
    for _, form in ipairs(FORM_ORDER) do
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
-- @treturn string "integer" | "decimal" | "date" | "list" | "absent"
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
-- @treturn number|nil nil when allowed; else the emulated seconds until every budget it needs admits it
function Throttle:admit(app, write, now)
  if not self.enabled then return nil end
  local m, w = MODEL[self.model], self.window
  self.app_r[app] = self.app_r[app] or m.new()
  local need = { { self.tenant_r, self.tenant_requests }, { self.app_r[app], self.app_requests } }
  if write then
    self.app_w[app] = self.app_w[app] or m.new()
    need[3] = { self.tenant_w, self.tenant_writes }
    need[4] = { self.app_w[app], self.app_writes }
  end
  local wait
  for _, b in ipairs(need) do
    local t = m.wait(b[1], b[2], w, now)
    if t and (not wait or t > wait) then wait = t end
  end
  if wait then
    self.throttled = self.throttled + 1
    return wait
  end
  for _, b in ipairs(need) do m.spend(b[1], b[2], w, now) end
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
