--- Verification after a write: the service is eventually consistent, so a device that answered 204 may
-- still show its user for a while. Each unassigned device is read again `interval` seconds after its write,
-- and again every `interval` until its `userPrincipalName` is empty (a restore: the restored user) (`verified =
-- true`) or `timeout` seconds
-- after the write have passed (`verified = false`; one last read happens at the deadline). Reads run while
-- the writes go on, in a few slots of their own, so verification costs little time beyond the last write.
-- @module autopilot.bulk.verify
local errors = require "autopilot.errors"
local json = require "autopilot.json"
local actions = require "autopilot.bulk.actions"

local M = {}

local COLLECTION = "/deviceManagement/windowsAutopilotDeviceIdentities"

local Verifier = {}
Verifier.__index = Verifier

--- A verifier.
-- @tparam table client the client (`_url`)
-- @tparam table cfg `{ timeout = s, interval = s }`
-- @tparam[opt] table action an `autopilot.bulk.actions` entry: `verified(entry, device)` says whether a read
--   shows the write, `unverified` what is seen while it does not (default: unassign)
-- @treturn table verifier (`add`, `next`, `handle`, `wake`, `busy`)
function M.new(client, cfg, action)
  return setmetatable({ client = client, cfg = cfg, heap = {}, n = 0, in_flight = 0, checks = 0,
                        action = action or actions.unassign }, Verifier)
end

-- a binary min-heap of { due, entry } by due time
local function push(self, due, e)
  local h = self.heap
  self.n = self.n + 1
  local i = self.n
  h[i] = { due, e }
  while i > 1 do
    local p = i // 2
    if h[p][1] <= h[i][1] then break end
    h[p], h[i] = h[i], h[p]
    i = p
  end
end

local function pop(self)
  local h = self.heap
  local top = h[1]
  h[1] = h[self.n]
  h[self.n] = nil
  self.n = self.n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= self.n and h[l][1] < h[m][1] then m = l end
    if r <= self.n and h[r][1] < h[m][1] then m = r end
    if m == i then break end
    h[m], h[i] = h[i], h[m]
    i = m
  end
  return top[2]
end

--- Schedule the checks of a device just unassigned.
-- @tparam table e the plan entry
-- @tparam number now monotonic seconds
function Verifier:add(e, now)
  e.verify_deadline = now + self.cfg.timeout
  push(self, math.min(now + self.cfg.interval, e.verify_deadline), e)
end

--- The next read that is due, or nil.
-- @tparam number now
-- @treturn table|nil a request for `session:submit`
function Verifier:next(now)
  if self.n == 0 or self.heap[1][1] > now then return nil end
  local e = pop(self)
  self.in_flight = self.in_flight + 1
  self.checks = self.checks + 1
  return { method = "GET", url = self.client:_url(COLLECTION .. "/" .. e.id), idempotent = true,
           tag = { kind = "verify", entry = e } }
end

--- Seconds until the next read is due (nil when none is queued).
-- @tparam number now
-- @treturn number|nil
function Verifier:wake(now)
  if self.n == 0 then return nil end
  return math.max(0, self.heap[1][1] - now)
end

--- Whether reads are queued or in flight.
-- @treturn boolean
function Verifier:busy()
  return self.n > 0 or self.in_flight > 0
end

--- Handle a read's result.
-- @tparam table r the core result
-- @tparam number now
-- @treturn table|nil the entry when its verification ended (`verified` set)
function Verifier:handle(r, now)
  self.in_flight = self.in_flight - 1
  local e = r.tag.entry
  local err = errors.from_result(r)
  if not err then
    local d = json.decode(r.body or "")
    if type(d) == "table" and self.action.verified(e, d) then
      e.verified = true
      return e
    end
  elseif err.status == 404 then
    e.verified = false
    e.message = "verify: the device is gone (404)"
    return e
  end
  if now >= e.verify_deadline then
    e.verified = false
    e.message = err and ("verify: " .. tostring(err.message))
      or string.format("verify: %s %gs after the write", self.action.unverified, self.cfg.timeout)
    return e
  end
  push(self, math.min(now + self.cfg.interval, e.verify_deadline), e)
  return nil
end

return M
