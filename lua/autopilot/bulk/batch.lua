--- `$batch` mode of a bulk run: up to 20 unassigns per request.
--
-- A `$batch` request is one HTTP request but 20 writes to the service's throttle (batching saves round trips,
-- not budget), so the session's own write budget is off in this mode and the items are paced here, with the
-- same sliding window (`limit.writes` item sends per `limit.seconds`). The envelope's 429/5xx are retried by
-- the C core like any request. Items are throttled on their own: an item answered 429, 503 or 504 is sent
-- again in a later batch, never before its own Retry-After (whole or decimal seconds, or an HTTP-date
-- measured against the response's Date), or after an exponential backoff with full jitter when it has none.
-- An item 429 also holds back every new batch until the earliest Retry-After among that response's throttled
-- items, since throttling is per app, and halves the batches allowed in flight (one more is allowed after
-- each response without a 429, up to `concurrency`), so that a budget set too high, or none, costs a few
-- throttled items per window rather than hundreds. Items still failing after `MAX_ATTEMPTS` sends are `failed`.
-- @module autopilot.bulk.batch
local errors = require "autopilot.errors"
local json = require "autopilot.json"

local M = {}

M.SIZE = 20
M.MAX_ATTEMPTS = 7            -- 503/504 and left-out items: the first send and 6 retries, as the core
M.MAX_RETRY_WAIT = 600        -- 429: seconds of Retry-After an item may wait in all, as the core
M.BACKOFF_BASE, M.BACKOFF_CAP = 1, 60

-- A client-request-id per item, kept across its retries: items must not share the envelope's, or a
-- throttled item would make its neighbours look like early retries of it.
local function guid()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%04x-%012x", r(0, 0xffffffff), r(0, 0xffff), r(0, 0xfff),
    0x8000 | r(0, 0x3fff), r(0, 0xffffffffffff))
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }

-- days since 1970-01-01 of a civil date (Howard Hinnant's algorithm): os.time would read local time
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- Parse an HTTP-date (IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`) to epoch seconds.
-- @tparam string s
-- @treturn number|nil
function M.parse_http_date(s)
  local d, mon, y, hh, mm, ss = s:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60
    + tonumber(ss)
end

--- Seconds to wait for a Retry-After value: whole or decimal seconds, or an HTTP-date measured against `date`
-- (the response's Date header; the local clock when absent).
-- @tparam string|nil v the header value
-- @tparam[opt] string date the response's Date header
-- @treturn number|nil seconds (nil when absent or unreadable)
function M.retry_after(v, date)
  if type(v) ~= "string" then return nil end
  v = v:match("^%s*(.-)%s*$")
  if v:find("^%d+$") or v:find("^%d*%.%d+$") or v:find("^%d+%.$") then return tonumber(v) end
  local at = M.parse_http_date(v)
  if not at then return nil end
  -- Date is truncated to the second, like os.time: the wait can only come out longer, never shorter
  local ref = date and M.parse_http_date(date) or os.time()
  return math.max(0, at - ref)
end

local function lower_keys(t)
  local out = {}
  if type(t) == "table" then
    for k, v in pairs(t) do
      if type(k) == "string" then out[k:lower()] = v end
    end
  end
  return out
end

local Writer = {}
Writer.__index = Writer

--- A batch writer.
-- @tparam table run the runner (see `autopilot.bulk.runner`): client, opts, outcome callbacks
-- @tparam table todo array of plan entries to unassign
-- @treturn table writer (`next`, `handle`, `wake`, `busy`, `abort`)
function M.new(run, todo)
  local client = run.client
  local prefix = client:_url("")
  local self = setmetatable({
    run = run, client = client, opts = run.opts, queue = todo, i = 1, retry = {}, in_flight = 0,
    sends = {}, sends_head = 1, sends_tail = 0, paused_until = -math.huge, aborted = false, envelopes = 0,
    item_retries = 0, item_throttled = 0, prefix = prefix,
    window = run.opts.concurrency, -- batches allowed in flight
  }, Writer)
  return self
end

-- how many item sends the sliding window allows at `now`, and when the next one frees up
function Writer:_budget(now)
  local limit = self.opts.limit
  if not limit then return math.huge, now end
  local s = self.sends
  while self.sends_head <= self.sends_tail and s[self.sends_head] <= now - limit.seconds do
    s[self.sends_head] = nil
    self.sends_head = self.sends_head + 1
  end
  local used = self.sends_tail - self.sends_head + 1
  local free = limit.writes - used
  if free > 0 then return free, now end
  return 0, s[self.sends_head] + limit.seconds
end

function Writer:_record_sends(now, k)
  if not self.opts.limit then return end
  for _ = 1, k do
    self.sends_tail = self.sends_tail + 1
    self.sends[self.sends_tail] = now
  end
end

-- items waiting for their own Retry-After whose time has come, earliest first
function Writer:_due_retries(now)
  local due = {}
  local keep = {}
  for _, e in ipairs(self.retry) do
    if e.not_before <= now then due[#due + 1] = e else keep[#keep + 1] = e end
  end
  self.retry = keep
  table.sort(due, function(a, b) return a.not_before < b.not_before end)
  return due
end

--- The next `$batch` request, or nil when nothing may be sent now.
-- @tparam number now monotonic seconds
-- @treturn table|nil request
function Writer:next(now)
  if self.aborted or now < self.paused_until or self.in_flight >= self.window then return nil end
  local free = self:_budget(now)
  if free <= 0 then return nil end
  local items = self:_due_retries(now)
  local k = math.min(M.SIZE, free)
  while #items > k do
    local e = table.remove(items)
    self.retry[#self.retry + 1] = e
  end
  while #items < k and self.i <= #self.queue do
    items[#items + 1] = self.queue[self.i]
    self.i = self.i + 1
  end
  if #items == 0 then return nil end
  local requests = {}
  for n, e in ipairs(items) do
    local req = self.client:_action_request(e.id, "unassignUserFromDevice", nil,
      { via_profile = self.opts.via_profile })
    e.crid = e.crid or guid()
    requests[n] = { id = tostring(n), method = "POST", url = req.url:sub(#self.prefix + 1),
                    headers = { ["client-request-id"] = e.crid } }
    e.attempts = (e.attempts or 0) + 1
    e.not_before = nil
  end
  self:_record_sends(now, #items)
  self.in_flight = self.in_flight + 1
  self.envelopes = self.envelopes + 1
  return {
    method = "POST", url = self.client:_url("/$batch"), body = json.encode({ requests = requests }),
    headers = { ["Content-Type"] = "application/json" }, idempotent = true,
    tag = { kind = "batch", items = items },
  }
end

--- Seconds until a request may be ready (nil: nothing to send until results arrive).
-- @tparam number now
-- @treturn number|nil
function Writer:wake(now)
  if self.aborted or self.in_flight >= self.window then return nil end -- a response will come first
  local at
  if self.i <= #self.queue then at = now end
  for _, e in ipairs(self.retry) do
    if not at or e.not_before < at then at = e.not_before end
  end
  if not at then return nil end
  if self.paused_until > at then at = self.paused_until end
  local free, when = self:_budget(now)
  if free <= 0 and when > at then at = when end
  return math.max(0, at - now)
end

--- Whether items are queued, waiting or in flight.
-- @treturn boolean
function Writer:busy()
  if self.in_flight > 0 then return true end
  if self.aborted then return false end
  return self.i <= #self.queue or #self.retry > 0
end

--- Stop sending: every item not yet finished becomes `not_attempted` (or `failed` when it was sent before).
function Writer:abort()
  self.aborted = true
  for j = self.i, #self.queue do self.run:skip_rest(self.queue[j]) end
  self.i = #self.queue + 1
  for _, e in ipairs(self.retry) do self.run:skip_rest(e) end
  self.retry = {}
end

function Writer:_requeue(e, now, ra, status)
  -- after an abort nothing is sent again: an item put back now would end the run with no outcome
  if self.aborted then return false end
  local wait = ra
  if not wait then
    local cap = math.min(M.BACKOFF_CAP, M.BACKOFF_BASE * 2 ^ (e.attempts - 1))
    wait = math.random() * cap
  end
  if status == 429 then
    -- throttling says "later", not "broken": bounded by time waited, not by attempts
    e.waited = (e.waited or 0) + wait
    if e.waited > M.MAX_RETRY_WAIT then return false end
  elseif e.attempts >= M.MAX_ATTEMPTS then
    return false
  end
  e.not_before = now + wait
  e.retry_after = ra
  e.last_status = status
  self.retry[#self.retry + 1] = e
  self.item_retries = self.item_retries + 1
  return true
end

--- Handle a `$batch` response: record each item's outcome or put it back for a retry.
-- @tparam table r the core result
-- @tparam number now
function Writer:handle(r, now)
  self.in_flight = self.in_flight - 1
  local items = r.tag.items
  local err = errors.from_result(r)
  local body = not err and json.decode(r.body or "") or nil
  if not err and (type(body) ~= "table" or type(body.responses) ~= "table") then
    err = errors.invalid_response(r, "the $batch reply has no responses")
  end
  if err then
    for _, e in ipairs(items) do self.run:write_outcome(e, { status = err.status, attempts = e.attempts }, err) end
    if self.run:fatal(err) then self.run:abort(err) end
    return
  end
  local env_headers = r.headers or {}
  local by_id = {}
  for _, resp in ipairs(body.responses) do
    if type(resp) == "table" and resp.id ~= nil then by_id[tostring(resp.id)] = resp end
  end
  local pause_at
  local fatal_err
  for n, e in ipairs(items) do
    local resp = by_id[tostring(n)]
    local status = resp and math.tointeger(resp.status)
    local headers = lower_keys(resp and resp.headers)
    if not status then
      -- an item the envelope left out: send it again, after a backoff
      if not self:_requeue(e, now, nil, nil) then
        self.run:write_outcome(e, { attempts = e.attempts },
          errors.invalid_response(r, "the $batch reply left this item out"))
      end
    elseif status >= 200 and status < 300 then
      self.run:write_outcome(e, { status = status, attempts = e.attempts,
        headers = { ["request-id"] = headers["request-id"] or env_headers["request-id"] } })
      self.run:fatal(nil)
    else
      local ra = M.retry_after(headers["retry-after"], headers["date"] or env_headers["date"])
      local retryable = status == 429 or status == 503 or status == 504
      if status == 429 then
        self.item_throttled = self.item_throttled + 1
        self.run:throttled_item()
      end
      if retryable and self:_requeue(e, now, ra, status) then
        if status == 429 then
          local at = now + (ra or 0)
          if not pause_at or at < pause_at then pause_at = at end
        end
      else
        local item_body = resp.body
        if type(item_body) == "table" then item_body = json.encode(item_body) end
        local fake = { status = status, headers = { ["request-id"] = headers["request-id"] or env_headers["request-id"],
          ["retry-after"] = headers["retry-after"] }, body = type(item_body) == "string" and item_body or nil,
          attempts = e.attempts, retry_after = ra }
        local ierr = errors.from_result(fake)
        self.run:write_outcome(e, fake, ierr)
        if self.run:fatal(ierr) then fatal_err = ierr end
      end
    end
  end
  if pause_at and pause_at > self.paused_until then self.paused_until = pause_at end
  if pause_at then
    self.window = math.max(1, self.window // 2)
  elseif self.window < self.opts.concurrency then
    self.window = self.window + 1
  end
  if fatal_err then self.run:abort(fatal_err) end
end

return M
