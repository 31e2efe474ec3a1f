--- The tenant's devices, with eventual consistency.
-- Two views: `current` (every write at once; what writes act on and what the state reports) and
-- `visible` (what GET and list return), which catches up `delay` emulated seconds after each
-- write. With delay 0 both views share one table per device. Devices are indexed by id and kept
-- in an array sorted by (serialNumber, id) for the LastSerialNumber cursor (binary search).
-- @module autopilot.emulator.store
local M = {}

local Store = {}
Store.__index = Store

local function before(a, b)
  if a.serialNumber ~= b.serialNumber then return a.serialNumber < b.serialNumber end
  return a.id < b.id
end

--- A new store.
-- @tparam table devices array of device records (taken over, not copied)
-- @treturn[1] table the store
-- @return[2] nil
-- @treturn[2] string what is wrong (duplicate id)
function M.new(devices)
  local self = setmetatable({ current = {}, visible = {}, sorted = {}, pending = {}, next_due = math.huge,
    delay = 0, writes = {}, count = 0, seq = 0, shown = {} }, Store)
  for _, d in ipairs(devices) do
    if self.current[d.id] then return nil, "duplicate device id " .. d.id end
    self.current[d.id] = d
    self.visible[d.id] = d
    self.sorted[#self.sorted + 1] = d
    self.count = self.count + 1
  end
  table.sort(self.sorted, before)
  for i, d in ipairs(self.sorted) do self.sorted[i] = d.id end
  return self
end

--- Index of the first sorted entry not before (serial, id).
-- @tparam string serial
-- @tparam[opt=""] string id
-- @treturn integer 1 .. #sorted + 1
function Store:lower_bound(serial, id)
  id = id or ""
  local lo, hi = 1, #self.sorted + 1
  local vis, cur = self.visible, self.current
  while lo < hi do
    local mid = (lo + hi) // 2
    local mid_id = self.sorted[mid]
    local d = vis[mid_id] or cur[mid_id]
    local s = d and d.serialNumber or ""
    if s < serial or (s == serial and mid_id < id) then lo = mid + 1 else hi = mid end
  end
  return lo
end

--- Applies every write whose time has come.
-- @tparam number now emulated seconds
function Store:settle(now)
  if now < self.next_due then return end
  local keep, due = {}, math.huge
  local shown = self.shown
  for _, w in ipairs(self.pending) do
    if w.at <= now then
      -- a write shown already by a later one (the delay shrank meanwhile) stays hidden
      if (shown[w.id] or 0) > w.seq then -- luacheck: ignore 542
      elseif w.deleted then
        local d = self.visible[w.id]
        if d then
          local i = self:lower_bound(d.serialNumber, w.id)
          if self.sorted[i] == w.id then table.remove(self.sorted, i) end
          self.visible[w.id] = nil
        end
      else
        self.visible[w.id] = w.record
        shown[w.id] = w.seq
      end
    else
      keep[#keep + 1] = w
      if w.at < due then due = w.at end
    end
  end
  self.pending, self.next_due = keep, due
end

--- The device as GET sees it.
-- @tparam string id
-- @treturn table|nil the record (do not modify)
function Store:get(id)
  return self.visible[id]
end

--- The device as writes see it.
-- @tparam string id
-- @treturn table|nil the record (do not modify)
function Store:get_current(id)
  return self.current[id]
end

local function copy(d)
  local c = {}
  for k, v in pairs(d) do
    local p = k:sub(1, 2)
    if p ~= "_j" and p ~= "_l" then c[k] = v end -- rendering and lower-case caches
  end
  return c
end

--- Changes fields of a device.
-- @tparam string id
-- @tparam table fields property -> new string value
-- @tparam number now emulated seconds
-- @treturn boolean false when the device does not exist (now)
function Store:update(id, fields, now)
  local d = self.current[id]
  if not d then return false end
  if self.delay <= 0 and self.visible[id] == d then
    for k, v in pairs(fields) do
      d[k] = v
      d["_l" .. k] = nil
    end
    d._j1, d._jb = nil, nil
  else
    local c = copy(d)
    for k, v in pairs(fields) do c[k] = v end
    self.current[id] = c
    if self.delay <= 0 then
      self.visible[id] = c
    else
      self:schedule({ at = now + self.delay, id = id, record = c })
    end
  end
  self.writes[id] = (self.writes[id] or 0) + 1
  return true
end

--- Deletes a device.
-- @tparam string id
-- @tparam number now emulated seconds
-- @treturn boolean false when the device does not exist (now)
function Store:delete(id, now)
  local d = self.current[id]
  if not d then return false end
  self.current[id] = nil
  self.count = self.count - 1
  self.writes[id] = (self.writes[id] or 0) + 1
  if self.delay <= 0 then
    self:schedule({ at = now, id = id, deleted = true })
    self:settle(now)
  else
    self:schedule({ at = now + self.delay, id = id, deleted = true })
  end
  return true
end

--- Queues a write for the visible view.
-- @local
-- @tparam table w `{ at = emulated time, id =, record = | deleted = true }`
function Store:schedule(w)
  self.seq = self.seq + 1
  w.seq = self.seq
  self.pending[#self.pending + 1] = w
  if w.at < self.next_due then self.next_due = w.at end
end

--- Sets the consistency delay; 0 first shows every pending write.
-- @tparam number delay emulated seconds (>= 0)
function Store:set_delay(delay)
  if delay <= 0 then self:settle(math.huge) end
  self.delay = delay
end

--- Writes not yet visible.
-- @treturn integer
function Store:pending_count()
  return #self.pending
end

--- Walks visible devices in cursor order from the first whose serial is >= `serial`.
-- Collects up to `top` matches and reports whether another match follows.
-- @tparam string|nil serial inclusive cursor, or nil for the start
-- @tparam integer top page size
-- @tparam function|nil pred filter
-- @treturn table array of records
-- @treturn boolean true when more matches follow the page
function Store:page(serial, top, pred)
  local i = serial and self:lower_bound(serial) or 1
  local sorted, vis, out = self.sorted, self.visible, {}
  local n = #sorted
  while i <= n do
    local d = vis[sorted[i]]
    if d and (not pred or pred(d)) then
      if #out >= top then return out, true end
      out[#out + 1] = d
    end
    i = i + 1
  end
  return out, false
end

--- How many devices a listing shows (what `page` would walk from the start).
-- @tparam[opt] function pred a compiled $filter
-- @treturn integer
function Store:count_matching(pred)
  local vis, n = self.visible, 0
  for _, id in ipairs(self.sorted) do
    local d = vis[id]
    if d and (not pred or pred(d)) then n = n + 1 end
  end
  return n
end

--- The current devices with exactly this serial number (a binary search, never a scan).
-- @tparam string serial
-- @treturn table array of records in id order, possibly empty (do not modify)
function Store:current_with_serial(serial)
  local out, sorted, vis, cur = {}, self.sorted, self.visible, self.current
  local i = self:lower_bound(serial)
  while i <= #sorted do
    local id = sorted[i]
    local d = vis[id] or cur[id]
    if not d or d.serialNumber ~= serial then break end
    if cur[id] then out[#out + 1] = cur[id] end -- deleted ones may linger in the visible view
    i = i + 1
  end
  return out
end

--- Every current device, in cursor order.
-- @treturn table array of records (do not modify)
function Store:all_current()
  local out = {}
  for _, id in ipairs(self.sorted) do
    local d = self.current[id]
    if d then out[#out + 1] = d end
  end
  -- deleted-but-still-visible devices are in sorted and absent from current: skipped above
  return out
end

return M
