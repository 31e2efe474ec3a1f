--- The request log: a ring buffer of the last `max` entries (default 100000). Older entries are
-- dropped, and counted in `dropped`. Entries hold no token, secret or query of identity paths.
-- @module autopilot.emulator.log
local M = {}

local Log = {}
Log.__index = Log

--- A new log.
-- @tparam[opt=100000] integer max entries kept
-- @treturn table the log
function M.new(max)
  return setmetatable({ max = max or 100000, entries = {}, first = 1, n = 0, total = 0 }, Log)
end

--- Appends one entry.
-- @tparam table entry
function Log:push(entry)
  self.total = self.total + 1
  if self.n < self.max then
    self.n = self.n + 1
    self.entries[(self.first + self.n - 2) % self.max + 1] = entry
  else
    self.entries[self.first] = entry
    self.first = self.first % self.max + 1
  end
end

--- Changes the capacity (keeps the newest entries).
-- @tparam integer max
function Log:resize(max)
  local all = self:list()
  self.max, self.entries, self.first, self.n = max, {}, 1, 0
  local total = self.total
  for i = math.max(1, #all - max + 1), #all do self:push(all[i]) end
  self.total = total
end

--- The entries, oldest first.
-- @tparam[opt] integer last only the newest `last` entries
-- @treturn table array
function Log:list(last)
  local out = {}
  local from = last and math.max(0, self.n - last) or 0
  for i = from, self.n - 1 do out[#out + 1] = self.entries[(self.first + i - 1) % self.max + 1] end
  return out
end

--- Entries dropped so far.
-- @treturn integer
function Log:dropped()
  return self.total - self.n
end

return M
