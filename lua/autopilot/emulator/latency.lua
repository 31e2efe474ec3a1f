--- Response latency: fixed, or lognormal from a median and a 99th percentile (milliseconds,
-- real time whatever the clock's scale). Returned to the host as `resp.delay`, which suspends
-- the connection without blocking other requests.
-- @module autopilot.emulator.latency
local random = require "autopilot.emulator.random"

local M = {}

local Latency = {}
Latency.__index = Latency

local Z99 = 2.3263478740408408 -- the standard normal's 99th percentile

--- A new latency model (none unless `cfg` sets one).
-- @tparam number|table|nil cfg milliseconds, or `{ fixed = ms }`, or `{ median = ms, p99 = ms }`
-- @tparam integer seed
-- @treturn table the model
function M.new(cfg, seed)
  local self = setmetatable({ rng = random.new(seed, "latency") }, Latency)
  self:configure(cfg)
  return self
end

--- Changes the model; `false` or 0 turns it off.
-- @tparam number|table|boolean|nil cfg see `new`
function Latency:configure(cfg)
  if cfg == nil then return end
  self.fixed, self.mu, self.sigma = nil, nil, nil
  if cfg == false or cfg == 0 then return end
  if type(cfg) == "number" then cfg = { fixed = cfg } end
  if type(cfg) ~= "table" then error("latency: expected milliseconds or a table", 0) end
  if cfg.fixed ~= nil then
    if type(cfg.fixed) ~= "number" or cfg.fixed < 0 then error("latency.fixed: expected milliseconds", 0) end
    self.fixed = cfg.fixed / 1000
  elseif cfg.median ~= nil then
    local med, p99 = cfg.median, cfg.p99 or cfg.median
    if type(med) ~= "number" or med <= 0 or type(p99) ~= "number" or p99 < med then
      error("latency: expected 0 < median <= p99 (milliseconds)", 0)
    end
    self.mu = math.log(med / 1000)
    self.sigma = (math.log(p99 / 1000) - self.mu) / Z99
  else
    error("latency: expected { fixed = ms } or { median = ms, p99 = ms }", 0)
  end
end

--- One delay.
-- @treturn number|nil seconds, or nil when there is no latency
function Latency:sample()
  if self.fixed then return self.fixed > 0 and self.fixed or nil end
  if not self.mu then return nil end
  return math.exp(self.mu + self.sigma * self.rng:normal())
end

return M
