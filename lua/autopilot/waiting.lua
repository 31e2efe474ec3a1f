--- How a client call waits for the C core: blocking inside the core, or, on a client connected with
-- `async = true` and called inside a coroutine, by yielding the client itself to the host's event loop
-- (`coroutine.yield(client)`), which resumes the coroutine once `client:pollfd()` is readable or
-- `client:timeout()` has passed. Internal to the client and the bulk runner.
--
-- Many coroutines may wait on one client at once. Each wait belongs to an *owner* (a table: one per call,
-- one per bulk run); a result the core hands out goes to the owner that submitted it, through the client's
-- inbox, so one coroutine never takes (or sees the error of) another's request.
-- @module autopilot.waiting
local core = require "autopilot.core"
local errors = require "autopilot.errors"

local M = {}

--- The error a wait ends with when the client was closed under it.
-- @treturn autopilot.Error code "ClientClosed", kind "cancelled"
function M.closed_error()
  return errors.new { code = "ClientClosed", kind = "cancelled",
    message = "the client was closed while this call waited; what it had sent may or may not have been done" }
end

-- The client's routing state, made on first use.
local function routing(client)
  local r = client._waiting
  if not r then
    -- id -> owner; id -> result; owner -> deadline; coroutine -> the owner it waits for
    -- owner -> true while results of its are in the inbox
    -- owner -> deadline, only for the waits that have one (timeout reads these, not every waiter)
    r = { owner_of = {}, inbox = {}, waiting = {}, by_co = setmetatable({}, { __mode = "k" }), has = {},
          timed = {} }
    client._waiting = r
  end
  return r
end

--- Whether a call on this client yields (async client, inside a coroutine that can yield) rather than blocks.
-- @tparam autopilot.Client client
-- @treturn boolean
function M.yields(client)
  return type(client) == "table" and client._async == true and coroutine.isyieldable()
end

--- Queue a request for `owner`; its result comes back only to `M.poll` with the same owner.
-- @tparam autopilot.Client client an open client
-- @tparam table req as for the core's `submit`
-- @tparam table owner
-- @treturn integer the submission id
function M.submit(client, req, owner)
  local id = client._session:submit(req)
  routing(client).owner_of[id] = owner
  return id
end

-- Hands results to the inbox; returns the owner's, taken out of it.
local function file(r, results)
  for _, res in ipairs(results) do
    r.inbox[res.id] = res
    local o = r.owner_of[res.id]
    if o then r.has[o] = true end
  end
end

local function take(r, owner)
  local mine = {}
  for id, res in pairs(r.inbox) do
    local o = r.owner_of[id]
    if o == owner or o == nil then -- nil: submitted straight to the core, by whoever polls first
      mine[#mine + 1] = res
      r.inbox[id], r.owner_of[id] = nil, nil
    end
  end
  r.has[owner] = nil
  table.sort(mine, function(a, b) return a.id < b.id end)
  return mine
end

--- Do all the core has ready now without blocking; results go to the inbox for their owners.
-- @tparam autopilot.Client client
function M.step(client)
  local s = client._session
  if s then file(routing(client), s:poll(0)) end
end

-- Yields the client until resumed; nil, err when the client was closed meanwhile.
local function yield_until(client, r, owner, deadline)
  local co = coroutine.running()
  r.waiting[owner], r.by_co[co] = deadline, owner
  if deadline < math.huge then r.timed[owner] = deadline end
  coroutine.yield(client)
  r.waiting[owner], r.by_co[co], r.timed[owner] = nil, nil, nil
  if not client._session then return nil, M.closed_error() end
  return true
end

--- Wait up to `timeout` seconds for results of `owner`.
-- @tparam autopilot.Client client an open client
-- @tparam table owner
-- @tparam number timeout seconds (0: only what is ready now)
-- @treturn[1] {table,...} the owner's results (possibly none, when the time passed)
-- @return[2] nil
-- @treturn[2] autopilot.Error code "ClientClosed" when the client was closed while it waited
function M.poll(client, owner, timeout)
  local r = routing(client)
  local mine = take(r, owner)
  if #mine > 0 then return mine end
  if not M.yields(client) then
    file(r, client._session:poll(timeout))
    return take(r, owner)
  end
  local deadline = core.clock() + timeout
  while true do
    M.step(client)
    mine = take(r, owner)
    if #mine > 0 or core.clock() >= deadline then return mine end
    local ok, err = yield_until(client, r, owner, deadline)
    if not ok then return nil, err end
  end
end

--- Send one request and wait for its result.
-- @tparam autopilot.Client client an open client
-- @tparam table req as for the core's `request`
-- @treturn[1] table the core's result
-- @return[2] nil
-- @treturn[2] autopilot.Error code "ClientClosed" when the client was closed while it waited
function M.request(client, req)
  if not M.yields(client) then return client._session:request(req) end
  local owner = {}
  M.submit(client, req, owner)
  while true do
    local results, err = M.poll(client, owner, math.huge)
    if not results then return nil, err end
    if results[1] then return results[1] end
  end
end

--- Let `seconds` pass with nothing of the owner's in flight: a sleep, or a yield on an async client.
-- @tparam autopilot.Client client
-- @tparam table owner
-- @tparam number seconds
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code "ClientClosed"
function M.sleep(client, owner, seconds)
  if seconds ~= seconds or seconds <= 0 then return true end
  if not M.yields(client) then
    core.sleep(seconds)
    return true
  end
  local r = routing(client)
  local deadline = core.clock() + seconds
  repeat
    local ok, err = yield_until(client, r, owner, deadline)
    if not ok then return nil, err end
  until core.clock() >= deadline
  return true
end

--- Give the host loop a turn in the middle of long work: on an async client inside a coroutine, yield the
-- client, due again at once; otherwise nothing.
-- @tparam autopilot.Client client
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code "ClientClosed"
function M.pause(client)
  if not M.yields(client) then return true end
  return yield_until(client, routing(client), {}, core.clock())
end

--- Whether resuming `co`, which yielded `client`, would get it anywhere: its results are in, its time has
-- come, or the client was closed (a coroutine the client does not know of: true). A loop that steps the
-- client first can resume only these, instead of every waiter on every event.
-- @tparam autopilot.Client client
-- @tparam thread co
-- @treturn boolean
function M.is_due(client, co)
  local r = client._waiting
  local owner = r and r.by_co[co]
  if not owner or not client._session then return true end
  return r.has[owner] == true or r.waiting[owner] <= core.clock()
end

--- Seconds until the client needs a step or a waiting coroutine is due: 0 when a waiter's result is in or
-- the client was closed under waiters; nil when nothing is pending or waiting.
-- @tparam autopilot.Client client
-- @treturn number|nil
function M.timeout(client)
  local r = client._waiting
  if not client._session then return r and next(r.waiting) and 0 or nil end
  local t = client._session:timeout()
  if not r then return t end
  for id in pairs(r.inbox) do
    local o = r.owner_of[id]
    if o == nil or r.waiting[o] then return 0 end
  end
  local now = core.clock()
  for _, deadline in pairs(r.timed) do
    local d = deadline - now
    if d < 0 then d = 0 end
    if t == nil or d < t then t = d end
  end
  return t
end

return M
