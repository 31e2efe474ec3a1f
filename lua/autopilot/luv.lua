--- Adapter for luv (libuv) event loops: async clients' calls run in coroutines that the loop resumes.
--
--     local uv = require "luv"
local waiting = require "autopilot.waiting"
--     local ap_luv = require "autopilot.luv"
--     local client = assert(autopilot.connect { ..., async = true })
--     local task = ap_luv.spawn(function() return client:unassign_user(id) end)
--     uv.run()            -- the host's loop: its own timers and sockets keep running meanwhile
--     -- task.done, task.ok, task.results (a table.pack) or task.error
--
-- One `uv_poll` handle and one timer per client, shared by every coroutine waiting on it: when the
-- client's descriptor is readable or its `timeout()` has passed, the adapter steps the client once and
-- resumes the coroutines whose results (or time) have come; each takes its own results. Idle clients keep
-- no active handle, so `uv.run()` returns once every spawned function is done. libuv closes handles on the
-- loop: after closing a client outside a running loop, run it once more (`uv.run()`), or luv fails at exit.
-- luv is required only by this module (an optional dependency).
-- @module autopilot.luv
local uv = require "luv"

local M = {}

local watchers = setmetatable({}, { __mode = "k" }) -- client -> { poll, timer, waiters }

local function is_client(v)
  return type(v) == "table" and type(v.pollfd) == "function" and type(v.timeout) == "function"
end

local wake

-- Re-arms what wakes the client's waiters: its descriptor and its timeout (none when nobody waits).
local function rearm(w)
  if #w.waiters == 0 then
    if w.polling then w.poll:stop() end
    w.polling = false
    w.timer:stop()
    return
  end
  if not w.polling and w.poll then
    w.poll:start("r", function() wake(w) end)
    w.polling = true
  end
  local t = w.client:timeout()
  if t then
    w.timer:start(math.max(0, math.ceil(t * 1000)), 0, function() wake(w) end)
  else
    w.timer:stop()
  end
end

local function watcher(client)
  local w = watchers[client]
  if w then return w end
  w = { client = client, poll = uv.new_poll(client:pollfd()), timer = uv.new_timer(), waiters = {} }
  watchers[client] = w
  client:_on_close(function() -- before the descriptor closes: libuv must stop watching it first
    if w.polling then w.poll:stop() end
    w.poll:close()
    w.poll, w.polling = nil, false
    if #w.waiters == 0 then
      w.timer:close()
    else
      w.timer:start(0, 0, function() wake(w) end) -- the waiters learn of it (ClientClosed) on the loop
    end
  end)
  return w
end

local function step(task)
  local r = table.pack(coroutine.resume(task.co, table.unpack(task.args or {}, 1, task.args and task.args.n)))
  task.args = nil
  if coroutine.status(task.co) == "dead" then
    task.done, task.ok = true, r[1]
    if r[1] then task.results = table.pack(table.unpack(r, 2, r.n)) else task.error = r[2] end
    if task.on_done then task.on_done(task) end
    return nil
  end
  if not is_client(r[2]) then
    task.done, task.ok, task.error = true, false, "autopilot.luv: the function yielded " .. type(r[2])
      .. ", not an async client"
    if task.on_done then task.on_done(task) end
    return nil
  end
  local w = watcher(r[2])
  w.waiters[#w.waiters + 1] = task
  return w
end

-- Steps the client once, then resumes the waiters that will get somewhere (waiting.is_due); the others
-- wait on.
function wake(w)
  local waiters = w.waiters
  w.waiters = {}
  w.client:step()
  local touched = { [w] = true }
  for _, task in ipairs(waiters) do
    if waiting.is_due(w.client, task.co) then
      local other = step(task)
      if other then touched[other] = true end
    else
      w.waiters[#w.waiters + 1] = task
    end
  end
  for x in pairs(touched) do rearm(x) end
  if not w.poll and #w.waiters == 0 then w.timer:close() end -- closed and nobody left: free the timer
end

local starting, starter = {}, nil -- tasks spawned but not started yet; the 0 ms timer that starts them

-- Starts spawned tasks, START_SLICE a turn: thousands spawned at once must not hold the loop for long.
local START_SLICE = 32

local function start_spawned()
  local list, rest = starting, {}
  for i = START_SLICE + 1, #list do rest[#rest + 1] = list[i] end
  starting = rest
  local touched = {}
  for i = 1, math.min(START_SLICE, #list) do
    local w = step(list[i])
    if w then touched[w] = true end
  end
  for w in pairs(touched) do rearm(w) end
  if #starting == 0 then
    starter:close()
    starter = nil
  else
    starter:start(1, 0, start_spawned) -- 1 ms: a 0 ms timer started in a timer callback runs in the same pass
  end
end

--- Run `fn(...)` in a coroutine driven by the default luv loop. It starts on the loop's next turn (inside
-- `uv.run()`), so the task's fields can be set first.
-- @tparam function fn may call any method of async clients
-- @param ... its arguments
-- @treturn table the task: `done` (boolean), then `ok`, and `results` (a `table.pack` of what fn returned)
--   or `error` (what it raised); set `task.on_done = function(task)` to hear of the end
function M.spawn(fn, ...)
  if type(fn) ~= "function" then error("autopilot.luv.spawn: fn must be a function, got " .. type(fn), 2) end
  local task = { co = coroutine.create(fn), args = table.pack(...), done = false }
  starting[#starting + 1] = task
  if not starter then
    starter = uv.new_timer()
    starter:start(0, 0, start_spawned)
  end
  return task
end

--- Spawn `fn(...)` and run the default loop until nothing is left to do.
-- @tparam function fn
-- @param ... its arguments
-- @return what fn returned; raises what it raised
function M.run(fn, ...)
  local task = M.spawn(fn, ...)
  uv.run()
  if not task.done then error("autopilot.luv.run: the loop ended before the function did", 2) end
  if not task.ok then error(task.error, 0) end
  return table.unpack(task.results, 1, task.results.n)
end

return M
