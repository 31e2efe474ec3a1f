--- A tiny scheduler for scripts that want concurrency without an event-loop framework: it runs functions
-- as coroutines over async clients (`autopilot.connect{ ..., async = true }`) and waits for all of them.
--
--     local async = require "autopilot.async"
--     local client = assert(autopilot.connect { ..., async = true })
--     local r = async.run(function() return client:unassign_user(id1) end,
--                         function() return client:unassign_user(id2) end)
--     -- r[1] = { true, true, n = 2 }: each function's pcall-style outcome
--
-- A waiting function yields its client (see `autopilot.waiting`); the scheduler sleeps on every waiting
-- client's descriptor (and the earliest of their `timeout()`s) in one `poll(2)`, steps each client once and
-- resumes the functions whose results (or time) have come.
-- @module autopilot.async
local core = require "autopilot.core"
local waiting = require "autopilot.waiting"

local M = {}

local function is_client(v)
  return type(v) == "table" and type(v.pollfd) == "function" and type(v.timeout) == "function"
end

local function resume(task)
  local r = table.pack(coroutine.resume(task.co))
  if coroutine.status(task.co) == "dead" then
    task.result, task.client = r, nil
  elseif is_client(r[2]) then
    task.client = r[2]
  else -- a yield the scheduler cannot wait on: the function fails, the others go on
    task.result, task.client = { false, "autopilot.async: a function yielded " .. type(r[2]) ..
      ", not an async client (use the adapter of your event loop)", n = 2 }, nil
  end
end

-- Descriptors and the earliest timeout over the clients the tasks wait on.
local function what_to_wait_for(tasks)
  local fds, seen, timeout = {}, {}, nil
  for _, t in ipairs(tasks) do
    local c = t.client
    if c and not seen[c] then
      seen[c] = true
      local ct = c:timeout()
      if ct and (timeout == nil or ct < timeout) then timeout = ct end
      if c._session then fds[#fds + 1] = c:pollfd() end
    end
  end
  return fds, timeout
end

--- Run functions as concurrent coroutines until all have returned.
-- @param ... functions (no arguments); each may call any method of async clients
-- @treturn {table,...} one table per function, in order, shaped like `table.pack(pcall(fn))`: `{ true, ... }`
--   with its results, or `{ false, err }` when it raised (the others go on regardless)
function M.run(...)
  local fns = table.pack(...)
  local tasks = {}
  for i = 1, fns.n do
    if type(fns[i]) ~= "function" then
      error("autopilot.async.run: argument " .. i .. " must be a function, got " .. type(fns[i]), 2)
    end
    tasks[i] = { co = coroutine.create(fns[i]) }
  end
  for _, t in ipairs(tasks) do resume(t) end
  while true do
    local fds, timeout = what_to_wait_for(tasks)
    if #fds == 0 and timeout == nil then break end -- every function has returned
    core.wait_readable(fds, timeout)
    local stepped = {}
    for _, t in ipairs(tasks) do
      local c = t.client
      if c and not stepped[c] then
        stepped[c] = true
        c:step()
      end
      if c and waiting.is_due(c, t.co) then resume(t) end
    end
  end
  local results = {}
  for i, t in ipairs(tasks) do results[i] = t.result end
  return results
end

return M
