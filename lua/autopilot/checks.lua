--- Checks of what a user passes, shared by `autopilot.connect` and `client:unassign_users`: each value is
-- checked once, here, and a mistake raises in the user's words, naming the option and what it must be.
-- (The C core checks its own contract again, at its own boundary.)
-- @module autopilot.checks
local M = {}

M.MAX_CONCURRENCY = 1024

--- Raise `where .. ": " .. message` at the caller's caller's `level`.
local function fail(where, level, fmt, ...)
  error(where .. ": " .. string.format(fmt, ...), level + 1)
end

--- A positive finite number, or nil.
-- @param v any value
-- @treturn boolean
function M.is_positive(v)
  return type(v) == "number" and v == v and v > 0 and v < math.huge
end

--- `concurrency`: an integer from 1 to `MAX_CONCURRENCY`.
-- @param v the value (nil: absent)
-- @tparam string where "autopilot.connect" or "unassign_users"
-- @tparam integer level error level of the user's call, counted from the caller of this function
-- @treturn integer|nil v
function M.concurrency(v, where, level)
  if v ~= nil and (math.type(v) ~= "integer" or v < 1 or v > M.MAX_CONCURRENCY) then
    fail(where, level + 1, "option 'concurrency' must be an integer from 1 to %d, got %s", M.MAX_CONCURRENCY,
      tostring(v))
  end
  return v
end

--- `limit`: `{ writes = positive integer, seconds = positive number }`, or false (no client-side budget).
-- @param v the value (nil: absent)
-- @tparam string where
-- @tparam integer level
-- @treturn table|boolean|nil a copy of the table, false, or nil
function M.limit(v, where, level)
  if v == nil or v == false then return v end
  if type(v) ~= "table" then
    fail(where, level + 1, "option 'limit' must be a table { writes =, seconds = } or false, got %s", tostring(v))
  end
  for k in pairs(v) do
    if k ~= "writes" and k ~= "seconds" then fail(where, level + 1, "unknown key 'limit.%s'", tostring(k)) end
  end
  if math.type(v.writes) ~= "integer" or v.writes < 1 then
    fail(where, level + 1, "option 'limit.writes' must be a positive integer, got %s", tostring(v.writes))
  end
  if not M.is_positive(v.seconds) then
    fail(where, level + 1, "option 'limit.seconds' must be a positive number, got %s", tostring(v.seconds))
  end
  return { writes = v.writes, seconds = v.seconds }
end

return M
