--- Seeded, reproducible fault injection.
-- Each Graph request draws once from its own random stream: with rates
-- `{ ["500"] = 0.01, ["503"] = 0.05, reset = 0.01, ... }` the same seed and the same sequence of
-- requests give the same faults. Targets (`targets = { [device_id] = { "503", "503" } }`) are
-- consumed in order by requests that name that device, before any random draw.
--
-- Kinds: "429" (the throttle's answer, whatever the budget; with Retry-After when `retry_after` is set:
-- a 429 a spec can count on), "500", "502", "503" (with Retry-After when `retry_after` is set), "504": an error
-- answer; "504" is applied after the operation ran (a gateway timeout on a write that happened),
-- the others before. "reset": the operation runs, then the connection is reset mid-body (closed
-- without a reply when the body is empty). "truncate": the body is cut short. "stall": nothing is
-- sent for `stall_seconds` (real seconds), then the connection closes; the operation does not
-- run. "malformed": the body is invalid JSON. "revoke": every token issued so far is revoked
-- before the request is authorized.
-- @module autopilot.emulator.faults
local random = require "autopilot.emulator.random"

local M = {}

M.KINDS = { "429", "500", "502", "503", "504", "reset", "stall", "truncate", "malformed", "revoke" }
local KIND = {}
for _, k in ipairs(M.KINDS) do KIND[k] = true end

local Faults = {}
Faults.__index = Faults

--- A new injector (no faults unless `cfg` sets rates or targets).
-- @tparam table|nil cfg `{ ["503"] = rate, ..., targets = { [id] = { kind, ... } }, stall_seconds = 40,
-- retry_after = seconds | nil, seed = n }`
-- @tparam integer seed the tenant seed
-- @treturn table the injector
function M.new(cfg, seed)
  local self = setmetatable({ rates = {}, targets = {}, stall_seconds = 40, active = false,
    injected = {}, rng = random.new(seed, "faults") }, Faults)
  self:configure(cfg)
  return self
end

--- Changes settings. Rates given replace all rates; targets given replace all targets.
-- @tparam table|nil cfg see `new`; `false` turns every fault off
function Faults:configure(cfg)
  if cfg == nil then return end
  if cfg == false then self.rates, self.targets, self.active = {}, {}, false; return end
  if type(cfg) ~= "table" then error("faults: expected a table", 0) end
  local rates, any = {}, false
  for k, v in pairs(cfg) do
    local key = tostring(k)
    if KIND[key] then
      if type(v) ~= "number" or v < 0 or v > 1 then error("faults." .. key .. ": expected a rate in [0, 1]", 0) end
      rates[key] = v
      any = true
    elseif k ~= "targets" and k ~= "stall_seconds" and k ~= "retry_after" and k ~= "seed" then
      error("faults: unknown key '" .. key .. "'", 0)
    end
  end
  local sum = 0
  for _, r in pairs(rates) do sum = sum + r end
  if sum > 1 + 1e-9 then error("faults: the rates add up to more than 1", 0) end
  if any or next(cfg) == nil then self.rates = rates end
  if cfg.targets ~= nil then
    if type(cfg.targets) ~= "table" then error("faults.targets: expected a table", 0) end
    local t = {}
    for id, list in pairs(cfg.targets) do
      if type(list) == "string" then list = { list } end
      if type(list) ~= "table" then error("faults.targets: expected a list of kinds per id", 0) end
      local q = {}
      for i, kind in ipairs(list) do
        if not KIND[tostring(kind)] then error("faults.targets: unknown kind '" .. tostring(kind) .. "'", 0) end
        q[i] = tostring(kind)
      end
      t[id] = q
    end
    self.targets = t
  end
  if cfg.stall_seconds ~= nil then
    if type(cfg.stall_seconds) ~= "number" or cfg.stall_seconds < 0 then
      error("faults.stall_seconds: expected seconds", 0)
    end
    self.stall_seconds = cfg.stall_seconds
  end
  if cfg.retry_after ~= nil then self.retry_after = cfg.retry_after end
  if cfg.seed ~= nil then self.rng = random.new(cfg.seed, "faults") end
  self.active = next(self.rates) ~= nil or next(self.targets) ~= nil
end

--- Draws the fault for one request.
-- @tparam string|nil target the device the request names
-- @treturn string|nil the kind, or nil for none
function Faults:draw(target)
  if not self.active then return nil end
  local kind
  local q = target and self.targets[target]
  self.last_target = nil
  if q and #q > 0 then
    kind = table.remove(q, 1)
    self.last_target = target
  elseif next(self.rates) then
    local x = self.rng:float()
    for _, k in ipairs(M.KINDS) do
      local r = self.rates[k]
      if r then
        if x < r then kind = k; break end
        x = x - r
      end
    end
  end
  if kind then self.injected[kind] = (self.injected[kind] or 0) + 1 end
  return kind
end

--- Takes back the fault just drawn, for a request answered before it could apply (401, 403, a throttle's
-- 429): it is uncounted, and a targeted one goes back to the front of its device's queue, so a target is
-- always spent on a request it reaches.
-- @tparam string kind what `draw` returned
function Faults:unapply(kind)
  self.injected[kind] = self.injected[kind] - 1
  local t = self.last_target
  self.last_target = nil
  if t and self.targets[t] then table.insert(self.targets[t], 1, kind) end
end

return M
