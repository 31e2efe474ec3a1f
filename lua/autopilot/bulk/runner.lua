--- The execution of a bulk run: submit writes (and verify reads) to the session, poll, record outcomes.
--
-- The C core paces writes (the session's budget), retries 429/503/504 and transport failures, honours
-- Retry-After and pauses the whole session after a 429; this loop keeps at most `concurrency` writes
-- outstanding, turns each result into an outcome, writes the journal line before anything else happens to
-- that device, and feeds the progress display. A failure that every other write would meet too (the token
-- endpoint refusing us, 401 or 403 on a write, a journal that can no longer be written) stops the run: the
-- writes in flight finish, the rest are `not_attempted`. So does the caller's `stop` function returning true
-- (polled once per step, i.e. at least every `TICK`): the run is then `interrupted`, and verify reads not yet
-- sent are dropped (those devices keep `verified` unset).
-- @module autopilot.bulk.runner
local errors = require "autopilot.errors"
local verify = require "autopilot.bulk.verify"
local actions = require "autopilot.bulk.actions"

local M = {}

local waiting = require "autopilot.waiting"

local TICK = 0.25 -- seconds: the longest poll, so progress keeps moving while nothing finishes

local Run = {}
Run.__index = Run

--- Items a `$batch` request carries (Graph's limit): in batch mode the session sends envelopes of this many.
M.BATCH_SIZE = 20

-- The writer: one write per device (the action's: unassignUserFromDevice, or assignUserToDevice to restore),
-- sent alone or (batch mode) carried by the C core in
-- `$batch` envelopes; the core's retries, pacing and Retry-After apply to each item either way.
local Single = {}
Single.__index = Single

local function single_writer(run, todo)
  return setmetatable({ run = run, queue = todo, i = 1, in_flight = 0, aborted = false, ids = {},
    batch_url = run.opts.batch and run.client:_url("/$batch") or nil }, Single)
end

function Single:next()
  if self.aborted or self.i > #self.queue then return nil end
  local e = self.queue[self.i]
  self.i = self.i + 1
  local action = self.run.action
  local req = self.run.client:_action_request(e.id, action.action, action.body(e), self.run.action_opts)
  req.tag = e -- the plan entry itself: one table less per request
  req.batch = self.batch_url
  self.in_flight = self.in_flight + 1
  return req
end

function Single:wake()
  if not self.aborted and self.i <= #self.queue then return 0 end
  return nil
end

function Single:busy()
  return self.in_flight > 0 or (not self.aborted and self.i <= #self.queue)
end

--- Remember the session's id of an entry's request (to cancel it if the run stops).
function Single:sent(e, id)
  self.ids[e] = id
end

function Single:abort()
  self.aborted = true
  for j = self.i, #self.queue do self.run:skip_rest(self.queue[j]) end
  self.i = #self.queue + 1
  -- requests the core holds for a retry are not sent again: they come back cancelled
  for _, id in pairs(self.ids) do self.run.session:cancel(id) end
end

--- After an abort: cancel the writes the core holds for a retry. A write that was on the wire when the run
-- stopped may come back with a retry scheduled (a 429's Retry-After): it must not be sent again either.
function Single:cancel_held()
  for _, id in pairs(self.ids) do self.run.session:cancel(id) end
end

function Single:handle(r)
  self.in_flight = self.in_flight - 1
  local e = r.tag
  self.ids[e] = nil
  local err = errors.from_result(r)
  if r.cancelled then
    e.attempts = r.attempts
    if e.attempts_before then e.attempts = e.attempts + e.attempts_before end
    self.run:skip_rest(e)
    return
  end
  if err and err.status == 401 and not e.second_chance and not self.aborted then
    -- the core already fetched a new token and retried once; a request that outlived two tokens gets one
    -- more turn at the end of the queue instead of failing
    e.second_chance = true
    e.attempts_before = (e.attempts_before or 0) + (r.attempts or 0)
    self.queue[#self.queue + 1] = e
    return
  end
  if e.attempts_before then r.attempts = (r.attempts or 0) + e.attempts_before end
  self.run:write_outcome(e, r, err)
  if self.run:fatal(err) then self.run:abort(err) end
end

--- Verify reads in flight at most: as many as writes (reads are not paced by the write budget, and each
-- device is read about once per `interval` while its change is not yet visible).
-- @tparam table opts checked options
-- @treturn integer 0 without verify
function M.read_slots(opts)
  return opts.verify and opts.concurrency or 0
end

--- How many 401/403 answers in a row (with no success between) stop the run.
M.AUTH_STREAK = 8

--- Whether an error will recur on every other write, so the run should stop: the token endpoint refused
-- us, or writes keep being refused (401/403) with no success between them.
-- @tparam autopilot.Error err nil after a success
-- @treturn boolean
function Run:fatal(err)
  if not err then
    self.auth_streak = 0
    return false
  end
  if err.kind == "auth" then return true end
  if err.status == 401 or err.status == 403 then
    self.auth_streak = (self.auth_streak or 0) + 1
    return self.auth_streak >= math.max(M.AUTH_STREAK, self.opts.concurrency)
  end
  return false
end

--- Record a write's outcome: the entry's fields, the journal line, the counters, the verify schedule.
-- @tparam table e the plan entry
-- @tparam table r the core result (or a result-shaped table for a batch item)
-- @tparam[opt] autopilot.Error err nil when the write succeeded
function Run:write_outcome(e, r, err)
  local headers = r.headers or {}
  e.attempts = r.attempts or e.attempts
  if err then
    e.outcome, e.status, e.code, e.message = "failed", err.status, err.code, err.message
    e.request_id = err.request_id or headers["request-id"]
    self.state.failed = self.state.failed + 1
  else
    e.outcome, e.status, e.request_id = self.action.outcome, r.status, headers["request-id"]
    e.code, e.message = nil, nil
    self.state.succeeded = self.state.succeeded + 1
  end
  self.state.done = self.state.done + 1
  self.last_write = self.clock.now()
  if self.journal then
    local ok, jerr = self.journal:write(e)
    if not ok and not self.error then self:abort(jerr) end
  end
  if not err and self.verifier then self.verifier:add(e, self.clock.now()) end
end

--- Mark an entry the run will not send (after an abort).
-- @tparam table e the plan entry
function Run:skip_rest(e)
  if e.attempts and e.attempts > 0 then
    e.outcome = "failed"
    e.message = e.message or (self.interrupted and ("the run was interrupted before this device's retry"
      .. (type(self.interrupted) == "string" and " (" .. self.interrupted .. ")" or ""))
      or "the run stopped before this device's retry")
    self.state.failed = self.state.failed + 1
  elseif self.error then
    e.outcome = "not_attempted"
    e.message = "the run stopped before this device: " .. tostring(self.error.message)
  else
    e.outcome = "not_attempted"
    e.message = "the run was interrupted before this device"
      .. (type(self.interrupted) == "string" and " (" .. self.interrupted .. ")" or "")
    self.state.failed = self.state.failed + 1
  end
  self.state.done = self.state.done + 1
end

--- Stop the run: no new writes; those in flight finish.
-- @tparam autopilot.Error err why
function Run:abort(err)
  if self.error then return end
  self.error = err
  self.writer:abort()
end

--- Stop the run because the caller asked (`stop` returned true): no new writes or verify reads; those in
-- flight finish.
-- @param why what `stop` returned (a string, e.g. "SIGINT", is kept to name the cause)
function Run:interrupt(why)
  if self.interrupted then return end
  self.interrupted = type(why) == "string" and why or true
  self.writer:abort()
end

--- Execute the writes of a plan.
-- @tparam table o `{ client =, opts =, todo = entries, state = counters, journal = journal|nil,
--   tracker = progress tracker, clock = autopilot.bulk.clock, action = nil|`autopilot.bulk.actions` entry
--   (unassign by default) }`
-- @treturn table the run: `error` (set when it stopped early), `interrupted` (true, or the string `stop`
--   returned, when `opts.stop` stopped it), `verify_checks`, `write_seconds` (from the first write sent to the
--   last one answered)
function M.execute(o)
  local run = setmetatable({
    client = o.client, session = o.client._session, opts = o.opts, state = o.state, journal = o.journal,
    tracker = o.tracker, clock = o.clock, action = o.action or actions.unassign,
    action_opts = { via_profile = o.opts.via_profile },
  }, Run)
  run.writer = single_writer(run, o.todo)
  if o.opts.verify then run.verifier = verify.new(run.client, o.opts.verify, run.action) end
  local s = run.session
  local writer, verifier = run.writer, run.verifier
  -- in batch mode `concurrency` counts envelopes in flight, each carrying up to BATCH_SIZE writes
  local write_cap = o.opts.concurrency * (o.opts.batch and M.BATCH_SIZE or 1)
  local read_cap = M.read_slots(o.opts)
  local base_throttled = s:stats().throttled or 0
  local state = run.state
  local shown = run.tracker:active()
  local stop = o.opts.stop

  while true do
    if stop and not run.interrupted then
      local why = stop()
      if why then run:interrupt(why) end
    end
    local now = run.clock.now()
    if verifier and not run.interrupted then
      while verifier.in_flight < read_cap do
        local req = verifier:next(now)
        if not req then break end
        waiting.submit(run.client, req, run)
      end
    end
    while writer.in_flight < write_cap do
      local req = writer:next(now)
      if not req then break end
      writer:sent(req.tag, waiting.submit(run.client, req, run))
      run.first_write = run.first_write or now
    end
    local busy = writer:busy() or (verifier and (run.interrupted and verifier.in_flight > 0 or verifier:busy()))
    if not busy then break end
    -- wait for a result, or until a writer or reader with a free slot has something due
    local timeout = TICK
    if writer.in_flight < write_cap then
      local w = writer:wake(now)
      if w and w < timeout then timeout = w end
    end
    if verifier and verifier.in_flight < read_cap and not run.interrupted then
      local v = verifier:wake(now)
      if v and v < timeout then timeout = v end
    end
    if timeout < 0.001 then timeout = 0.001 end -- never spin
    local results, closed
    if writer.in_flight == 0 and (not verifier or verifier.in_flight == 0) then
      -- nothing in flight: the session's poll would return at once, so sleep until something is due
      if waiting.yields(run.client) then
        results, closed = waiting.sleep(run.client, run, timeout)
        results = results and {}
      else
        run.clock.sleep(timeout)
        results = {}
      end
    else
      results, closed = waiting.poll(run.client, run, timeout)
    end
    if not results then -- an async client closed under the run: nothing more can be sent or heard
      run.closed = closed
      break
    end
    if writer.aborted and writer.in_flight > 0 then writer:cancel_held() end
    now = run.clock.now()
    for _, r in ipairs(results) do
      local tag = r.tag
      if type(tag) == "table" then
        if tag.kind == "verify" then
          verifier:handle(r, now)
        elseif tag.id then -- a write, tagged with its entry
          writer:handle(r, now)
        end
      end
    end
    if shown then
      state.in_flight = writer.in_flight
      state.verifying = verifier and (verifier.n + verifier.in_flight) or 0
      state.throttled = (s:stats().throttled or 0) - base_throttled
      run.tracker:update(state)
    end
  end
  state.in_flight, state.verifying = 0, 0
  run.write_seconds = run.first_write and run.last_write and run.last_write - run.first_write
  state.throttled = (s:stats().throttled or 0) - base_throttled
  run.verify_checks = verifier and verifier.checks or 0
  return run
end

return M
