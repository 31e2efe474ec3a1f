--- Progress of a bulk run: the numbers, a callback, and a display on stderr.
--
-- The progress table given to `on_progress(p)`: `{ total, done, succeeded, failed, skipped, in_flight,
-- rate, eta, throttled, verifying, verified, phase, wait }`. `done` counts every finished target (skips
-- included); `rate` is succeeded writes per second of writing (the formula of the report's `achieved_rate`,
-- so the bar's last rate is the summary's); `eta` the seconds left at the pacing budget's rate (the
-- session's adapted write rate; the achieved rate when there is no budget), nil while unknown; `throttled`
-- the 429 answers seen so far; `verifying` the devices written but not yet verified, `verified` those whose
-- check ended; `phase` is `"write"`, `"waiting"` (writes queued for the budget or a 429's pause, `wait`
-- seconds until the next may leave; `waiting_for` says what for: `"budget"`, or a retry's reason such as
-- `"connection refused"`), `"verify"` (every write answered, checks still running) or `"done"`.
-- The callback runs at most ten times a second, and once at the end.
--
-- Retries: give `on_retry = progress.on_retry` to `autopilot.connect` and each retry the core schedules is
-- printed as `retrying: connection refused (2 of 6, next in 1.2 s)` on stderr, above the bar being drawn
-- (`M.say`), and the bar shows what it waits for until the retry leaves.
--
-- Display modes: `"bar"` redraws one line in place (`\r`, the line, then clear to its end), cut to the
-- terminal's width so it never wraps; `"lines"` prints a plain line every five seconds, for logs and pipes.
-- `progress = true` or `"auto"` picks `"bar"` when stderr is a terminal and `"lines"` otherwise. A terminal is
-- recognised when `TERM` is set and is not `dumb`, and `test -t 2` (run once through `os.execute`, which
-- hands the child our stderr) succeeds: plain Lua cannot call isatty, and a failing `io.stderr:seek` cannot
-- tell a pipe from a terminal.
-- @module autopilot.bulk.progress
local clock = require "autopilot.bulk.clock"

local M = {}

local CALLBACK_EVERY = 0.1
local BAR_EVERY = 0.1
local LINE_EVERY = 5
local MEASURE_EVERY = 1 -- seconds between two looks at the terminal's width (it may be resized)
local WAIT_SHOWN = 0.25 -- a shorter wait for the budget is ordinary pacing, not worth a word

-- The tracker drawing on stderr now, if any: a line said meanwhile goes above its bar (see `M.say`).
local drawing

--- The width used when the terminal's cannot be read.
M.DEFAULT_WIDTH = 80

--- Whether stderr is a terminal (see the module description).
-- @treturn boolean
function M.stderr_is_terminal()
  local term = os.getenv("TERM")
  if not term or term == "" or term == "dumb" then return false end
  return os.execute("test -t 2") == true
end

--- The display mode for a `progress` option value.
-- @param opt `true`, `"auto"`, `"bar"`, `"lines"`, `false` or nil
-- @treturn string|nil `"bar"`, `"lines"` or nil (no display)
function M.mode(opt)
  if opt == "bar" or opt == "lines" then return opt end
  if opt == true or opt == "auto" then return M.stderr_is_terminal() and "bar" or "lines" end
  return nil
end

local function positive_integer(s)
  local n = tonumber(s)
  if n and n >= 1 and n == math.floor(n) then return math.tointeger(n) end
  return nil
end

--- The terminal's width in columns: `COLUMNS` when set, else what `stty size` reads from stderr (the
-- terminal's own ioctl), else `M.DEFAULT_WIDTH`.
-- @treturn integer
function M.terminal_width()
  local cols = positive_integer(os.getenv("COLUMNS"))
  if cols then return cols end
  -- stty asks the terminal on its stdin: give it our stderr, the stream the bar is drawn on
  local f = io.popen("stty size 0<&2 2>/dev/null", "r")
  if f then
    local out = f:read("a") or ""
    f:close()
    cols = positive_integer(out:match("^%s*%d+%s+(%d+)"))
    if cols then return cols end
  end
  return M.DEFAULT_WIDTH
end

--- Seconds as a short duration: `45s`, `6m02s`, `1h05m`.
-- @tparam number|nil s
-- @treturn string `"?"` for nil, NaN or infinity
function M.duration(s)
  if not s or s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, (s % 3600) // 60)
end

--- A line cut to at most `width` characters (the last shown as `>` when something was cut).
-- @tparam string s
-- @tparam integer width
-- @treturn string
function M.truncate(s, width)
  if #s <= width then return s end
  if width < 1 then return "" end
  return s:sub(1, width - 1) .. ">"
end

-- The percent shown: never 100 before every target is done.
local function percent(done, total)
  if total <= 0 or done >= total then return 100 end
  return math.min(99, math.floor(done * 100 / total))
end

-- The parts of a bar line: the phase's counts, then extras from the most to the least important.
local function parts(p)
  local extras = {}
  local counts, frac
  if p.phase == "verify" then
    local checked = p.verified or 0
    local all = checked + (p.verifying or 0)
    frac = all > 0 and checked / all or 1
    counts = string.format("verify %d/%d %d%%", checked, all, percent(checked, all))
    extras[#extras + 1] = p.verifying .. " left"
  else
    frac = p.total > 0 and p.done / p.total or 1
    counts = string.format("%d/%d %d%%", p.done, p.total, percent(p.done, p.total))
    if p.phase == "waiting" then
      extras[#extras + 1] = M.waiting_text(p)
    elseif p.phase == "done" then
      if p.rate then extras[#extras + 1] = string.format("%.1f/s", p.rate) end
    else
      if p.rate then extras[#extras + 1] = string.format("%.1f/s", p.rate) end
      if p.eta then extras[#extras + 1] = "ETA " .. M.duration(p.eta) end
    end
  end
  if (p.failed or 0) > 0 then extras[#extras + 1] = "failed " .. p.failed end
  if (p.throttled or 0) > 0 then extras[#extras + 1] = "429s " .. p.throttled end -- the 429 answers seen
  if p.phase ~= "verify" and (p.verifying or 0) > 0 then extras[#extras + 1] = "verifying " .. p.verifying end
  return counts, frac, extras
end

--- The one-line bar for a progress table, never longer than `width`: the bar narrows (to 5), then goes,
-- then extras are dropped from the least important (429s before failures), then the line is cut.
-- @tparam table p a progress table
-- @tparam[opt=80] integer width columns available
-- @treturn string
function M.bar(p, width)
  width = width or M.DEFAULT_WIDTH
  local counts, frac, extras = parts(p)
  for n = #extras, 0, -1 do
    local text = counts
    for i = 1, n do text = text .. " " .. extras[i] end
    local room = width - #text - 3 -- "[", "]" and a space
    if room >= 5 then
      local w = math.min(24, room)
      local fill = math.floor(frac * w + 0.5)
      return "[" .. string.rep("#", fill) .. string.rep(".", w - fill) .. "] " .. text
    end
    if #text <= width then return text end
  end
  return M.truncate(counts, width)
end

--- What a waiting progress table waits for, in words: `waiting for budget 3s` or `retrying: connection
-- refused 2s` (pure).
-- @tparam table p a progress table in the `"waiting"` phase
-- @treturn string
function M.waiting_text(p)
  if p.waiting_for and p.waiting_for ~= "budget" then
    return "retrying: " .. p.waiting_for .. " " .. M.duration(p.wait)
  end
  return "waiting for budget " .. M.duration(p.wait)
end

--- The plain periodic line for a progress table.
-- @tparam table p a progress table
-- @tparam[opt="unassigned"] string verb what a succeeded write did (`"restored"` for a restore run)
-- @treturn string
function M.line(p, verb)
  local s = string.format("autopilot bulk: %d/%d done (%d%%), %d %s, %d failed, %d skipped, %d in flight",
    p.done, p.total, percent(p.done, p.total), p.succeeded, verb or "unassigned", p.failed, p.skipped, p.in_flight)
  if p.phase == "waiting" then
    s = s .. ", " .. M.waiting_text(p)
  elseif p.rate then
    s = s .. string.format(", %.1f/s", p.rate)
  end
  if p.phase == "write" or p.phase == "waiting" then s = s .. ", ETA " .. M.duration(p.eta) end
  s = s .. ", " .. (p.throttled or 0) .. " throttled"
  if (p.verifying or 0) > 0 then s = s .. ", verifying " .. p.verifying end
  return s
end

--- The ETA: writes left at the budget's rate (writes per second), else at the achieved rate.
-- @tparam integer left targets not yet done
-- @tparam[opt] number budget_rate the session's adapted write rate
-- @tparam[opt] number rate the achieved rate
-- @treturn number|nil seconds, nil while unknown
function M.eta(left, budget_rate, rate)
  if left <= 0 then return 0 end
  local r = budget_rate or rate
  if r and r > 0 then return left / r end
  return nil
end

local Tracker = {}
Tracker.__index = Tracker

--- A progress tracker.
-- @tparam table o `{ total = n, on_progress = fn|nil, mode = "bar"|"lines"|nil, stream = file|nil, now = fn|nil,
--   stats = fn|nil (the session's `stats()`: budget and queue), width = n|fn|nil (the terminal's width),
--   verb = string|nil (what a succeeded write did, for the plain line: the action's outcome, "unassigned" by
--   default) }`
-- @treturn table tracker with `:update(state)`, `:finish(state)`, `:say(line)` and `:note_retry(event)`
function M.new(o)
  local width = o.width or M.terminal_width
  if type(width) == "number" then
    local n = width
    width = function() return n end
  end
  return setmetatable({
    total = o.total, on_progress = o.on_progress, mode = o.mode, stream = o.stream or io.stderr,
    now = o.now or clock.now, stats = o.stats, width_of = width, last_cb = -math.huge, last_draw = -math.huge,
    measured = -math.huge, draws = 0, verb = o.verb or "unassigned",
  }, Tracker)
end

--- The progress table for a state.
-- @tparam table st `{ done, succeeded, failed, skipped, in_flight, throttled, verifying, write_seconds }`
--   (`write_seconds`, from the first write sent to the last answered, is given at the finish)
-- @tparam[opt] boolean final the run has ended
-- @treturn table progress table
-- @treturn number the time it was taken
function Tracker:snapshot(st, final)
  local t = self.now()
  -- writing starts with the first update: the runner reports after its first poll
  self.started = self.started or t
  local seconds = st.write_seconds or (t - self.started)
  local rate = (seconds > 0 and st.succeeded > 0) and st.succeeded / seconds or nil
  local pacing = self.stats and self.stats() or {}
  local left = self.total - st.done
  local verifying = st.verifying or 0
  local phase, wait, waiting_for = "write", nil, nil
  local retry_wait = self.retry and self.retry.at - t or 0
  if final then
    phase = "done"
  elseif left == 0 and verifying > 0 then
    phase = "verify"
  elseif retry_wait > 0 then -- a retry says more than the budget: something failed and waits to heal
    phase, wait, waiting_for = "waiting", retry_wait, self.retry.reason
  elseif (pacing.queued_writes or 0) > 0 and (pacing.write_wait or 0) >= WAIT_SHOWN then
    phase, wait, waiting_for = "waiting", pacing.write_wait, "budget"
  end
  return {
    total = self.total, done = st.done, succeeded = st.succeeded, failed = st.failed, skipped = st.skipped,
    in_flight = st.in_flight, rate = rate, eta = M.eta(left, pacing.adapted_rate, rate), throttled = st.throttled,
    verifying = verifying, verified = math.max(0, st.succeeded - verifying), phase = phase,
    wait = wait, waiting_for = waiting_for,
  }, t
end

function Tracker:_width(t)
  if t - self.measured >= MEASURE_EVERY then
    self.measured = t
    self.width = self.width_of()
  end
  return self.width
end

function Tracker:_draw(p, t, final)
  if self.mode == "bar" then
    -- one column spare: a line that fills the last column leaves some terminals about to wrap
    local s = M.bar(p, self:_width(t) - 1)
    self.stream:write("\r", s, "\27[K", final and "\n" or "")
    self.shown_bar = not final and s or nil
  elseif self.mode == "lines" then
    -- a log needs no second copy of the same line when the run ends right after a periodic one
    local line = M.line(p, self.verb)
    if line == self.last_line then return end
    self.last_line = line
    self.stream:write(line, "\n")
  end
  self.draws = self.draws + 1
  self.stream:flush()
  if final then
    if drawing == self then drawing = nil end
  elseif self.stream == io.stderr then -- the stream `M.say` writes to
    drawing = self
  end
end

--- Print a line on the tracker's stream above its bar: the bar's line is cleared, the line printed, and
-- the bar drawn again below it (in `"lines"` mode, or before the first draw, the line is just printed).
-- @tparam string line without its new line
function Tracker:say(line)
  if self.shown_bar then
    self.stream:write("\r\27[K", line, "\n\r", self.shown_bar, "\27[K")
  else
    self.stream:write(line, "\n")
  end
  self.stream:flush()
end

--- Note a retry the core scheduled (an `on_retry` event): until it leaves, the progress is `"waiting"` for
-- it, `waiting_for` its reason.
-- @tparam table event `{ reason = string, wait = seconds }`
function Tracker:note_retry(event)
  local wait = tonumber(event.wait) or 0
  self.retry = { reason = tostring(event.reason or "retry"), at = self.now() + wait }
end

--- Whether anything watches the progress (a callback or a display).
-- @treturn boolean
function Tracker:active()
  return self.on_progress ~= nil or self.mode ~= nil
end

--- Report a new state: calls `on_progress` and redraws, each at its own pace.
-- @tparam table st see `snapshot`
function Tracker:update(st)
  if not self.on_progress and not self.mode then return end
  local p, t = self:snapshot(st)
  if self.on_progress and t - self.last_cb >= CALLBACK_EVERY then
    self.last_cb = t
    self.on_progress(p)
  end
  if self.mode then
    local every = self.mode == "bar" and BAR_EVERY or LINE_EVERY
    if t - self.last_draw >= every then
      self.last_draw = t
      self:_draw(p, t, false)
    end
  end
end

--- The final state: always calls `on_progress` and draws once more (ending the bar's line).
-- @tparam table st see `snapshot`
function Tracker:finish(st)
  if not self.on_progress and not self.mode then return end
  local p, t = self:snapshot(st, true)
  if self.on_progress then self.on_progress(p) end
  if self.mode then self:_draw(p, t, true) end
end

--- The line for an `on_retry` event: `retrying: connection refused (2 of 6, next in 1.2 s)` (pure).
-- @tparam table event from the core: `reason`, `retry`, `of`, `wait` (seconds)
-- @treturn string
function M.retry_line(event)
  return string.format("retrying: %s (%s of %s, next in %.1f s)", tostring(event.reason or "retry"),
    tostring(event.retry or "?"), tostring(event.of or "?"), tonumber(event.wait) or 0)
end

--- Print a line on stderr, above the progress bar being drawn if there is one (which is then redrawn).
-- @tparam string line without its new line
function M.say(line)
  if drawing then return drawing:say(line) end
  io.stderr:write(line, "\n")
  io.stderr:flush()
end

--- An `on_retry` for `autopilot.connect`: says `M.retry_line(event)` (see `M.say`) and shows the wait on
-- the progress being drawn.
-- @tparam table event from the core
function M.on_retry(event)
  if drawing then drawing:note_retry(event) end
  M.say(M.retry_line(event))
end

return M
