--- A tiny app for the emulator host's specs: it echoes each request back as JSON.
-- Request headers steer the reply: x-reply-status, x-reply-delay (seconds), x-reply-fault, x-reply-size (a
-- body of that many bytes), x-reply-header (a "Name: value" header to add), x-reply-error (raise).
-- It counts how many delayed replies overlap on its own clock (max_in_flight), which shows the host does not
-- block while a reply waits. GET /config answers the config it was started with.
local json = require("cjson.safe").new()

local M = {}
M.__index = M

--- Creates the app.
-- @tparam table config the decoded config (kept for state())
-- @tparam number now host clock
-- @treturn table the app
function M.new(config, now)
  return setmetatable({ config = config, started = now, requests = 0, pending = {}, max_in_flight = 0 }, M)
end

--- The default app's credentials shape.
-- @treturn table tenant, client_id, client_secret
function M:info()
  return { tenant = self.config.tenant or "echo-tenant", client_id = "echo-client", client_secret = "echo-secret" }
end

--- What the specs read.
-- @tparam[opt] table arg ignored
-- @treturn table requests, max_in_flight, config, last
function M:state(arg)
  return { requests = self.requests, max_in_flight = self.max_in_flight, config = self.config, last = self.last,
           arg = arg }
end

--- Replaces config values at run time.
-- @tparam table arg values to merge into config
-- @treturn boolean true
function M:configure(arg)
  if type(arg) ~= "table" then error("configure needs a table") end
  for k, v in pairs(arg) do self.config[k] = v end
  return true
end

--- Raises on purpose (for srv:call error paths).
function M.fail()
  error("failing on purpose")
end

-- Counts the replies still waiting at `now`, including one due at `due`.
function M:track(now, due)
  local still = {}
  for _, t in ipairs(self.pending) do
    if t > now then still[#still + 1] = t end
  end
  still[#still + 1] = due
  self.pending = still
  if #still > self.max_in_flight then self.max_in_flight = #still end
end

--- Handles one request.
-- @tparam table req method, target, headers, body, now
-- @treturn table resp
function M:handle(req)
  self.requests = self.requests + 1
  local h = req.headers
  if h["x-reply-error"] then error("echo app asked to fail") end
  self.last = { method = req.method, target = req.target, headers = h, body = req.body }
  local delay = tonumber(h["x-reply-delay"])
  if delay and delay > 0 then self:track(req.now, req.now + delay) end
  local body
  if req.target == "/config" then
    body = json.encode(self.config)
  elseif h["x-reply-size"] then
    body = string.rep("abcdefghij", math.ceil(tonumber(h["x-reply-size"]) / 10)):sub(1, tonumber(h["x-reply-size"]))
  else
    body = json.encode({ method = req.method, target = req.target, headers = h, body = req.body,
                         now = req.now, scheme = req.scheme })
  end
  local headers = { ["Content-Type"] = "application/json", ["X-Echo"] = "yes" }
  local extra = h["x-reply-header"]
  if extra then
    local name, value = extra:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  return {
    status = tonumber(h["x-reply-status"]) or 200,
    headers = headers,
    body = body,
    delay = delay,
    fault = h["x-reply-fault"],
  }
end

return M
