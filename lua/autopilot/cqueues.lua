--- Adapter for cqueues: async clients' calls inside cqueues coroutines wait in `cqueues.poll`.
--
--     local cqueues = require "cqueues"
--     local ap_cq = require "autopilot.cqueues"
--     local client = assert(autopilot.connect { ..., async = true })
--     local cq = cqueues.new()
--     ap_cq.wrap(cq, function() assert(client:unassign_user(id)) end)
--     assert(cq:loop())
--
-- An async client is itself a cqueues pollable (`pollfd`, `events`, `timeout`). A client call yields the
-- client with a plain `coroutine.yield`, which Debian's cqueues would pass up as a multilevel yield to the
-- caller of `cq:step()`; `call` runs the function in a coroutine of its own and turns each such yield into
-- `cqueues.poll(client)`, passing cqueues' own yields (sockets, sleeps) through untouched. cqueues is
-- required only by this module (optional dependency).
-- @module autopilot.cqueues
local cqueues = require "cqueues"
local condition = require "cqueues.condition"

local M = {}

local closing = setmetatable({}, { __mode = "k" }) -- client -> { cond signalled when it closes, session }

local function is_client(v)
  return type(v) == "table" and type(v.pollfd) == "function" and type(v.timeout) == "function"
end

local function closed_condition(client)
  local entry = closing[client]
  if entry then return entry.cond end
  -- cqueues removes a descriptor from its own set only after the coroutines polling it wake, and fails on
  -- one already closed: the session keeps it open (watching nothing) until the client is collected
  local session = client._session
  session:hold_descriptor()
  entry = { cond = condition.new(), session = session }
  closing[client] = entry
  client:_on_close(function() entry.cond:signal() end)
  return entry.cond
end

--- Call `fn(...)` from inside a cqueues coroutine, bridging async clients' yields to `cqueues.poll`.
-- @tparam function fn
-- @param ... its arguments
-- @return what fn returned; raises what it raised
function M.call(fn, ...)
  local co = coroutine.create(fn)
  local r = table.pack(coroutine.resume(co, ...))
  while true do
    if not r[1] then error(r[2], 0) end
    if coroutine.status(co) == "dead" then return table.unpack(r, 2, r.n) end
    local v = r[2]
    if is_client(v) then
      if v._session then cqueues.poll(v, closed_condition(v)) end
      r = table.pack(coroutine.resume(co))
    else -- cqueues' own yield from inside fn: up to the controller, and its answer back down
      r = table.pack(coroutine.resume(co, coroutine.yield(table.unpack(r, 2, r.n))))
    end
  end
end

--- Start `fn(...)` on a controller, bridged as by `call`.
-- @param cq a `cqueues.new()` controller
-- @tparam function fn
-- @param ... its arguments
-- @return cq, for chaining
function M.wrap(cq, fn, ...)
  local args = table.pack(...)
  return cq:wrap(function() return M.call(fn, table.unpack(args, 1, args.n)) end)
end

return M
