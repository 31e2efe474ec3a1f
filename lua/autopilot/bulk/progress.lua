--- Progress of a bulk run: the numbers, a callback, and a display on stderr.
--
-- The progress table given to `on_progress(p)`: `{ total, done, succeeded, failed, skipped, in_flight,
-- rate, eta, throttled, verifying }`; `done` counts every finished target (skips included), `rate` is devices
-- finished per second over the last ten seconds, `eta` the seconds left at that rate (nil while unknown),
-- `throttled` the 429 answers seen so far, `verifying` the devices written but not yet verified. The
-- callback runs at most ten times a second, and once at the end.
--
-- Display modes: `"bar"` redraws one line with `\r` (done/total, percent, rate, ETA, throttled, failed);
-- `"lines"` prints a plain line every five seconds, for logs and pipes. `progress = true` or `"auto"` picks
-- `"bar"` when stderr is a terminal and `"lines"` otherwise. A terminal is recognised when `TERM` is set and
-- is not `dumb`, and `test -t 2` (run once through `os.execute`, which hands the child our stderr) succeeds:
-- plain Lua cannot call isatty, and a failing `io.stderr:seek` cannot tell a pipe from a terminal.
-- @module autopilot.bulk.progress
local clock = require "autopilot.bulk.clock"

local M = {}

local WINDOW = 10        -- seconds of history behind `rate`
local CALLBACK_EVERY = 0.1
local BAR_EVERY = 0.1
local LINE_EVERY = 5

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

--- Seconds as a short duration: `45s`, `6m02s`, `1h05m`.
-- @tparam number|nil s
-- @treturn string
function M.duration(s)
  if not s or s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, (s % 3600) // 60)
end

--- The one-line bar for a progress table.
-- @tparam table p a progress table
-- @tparam[opt=24] integer width the bar's width in characters
-- @treturn string
function M.bar(p, width)
  width = width or 24
  local frac = p.total > 0 and p.done / p.total or 1
  local fill = math.floor(frac * width + 0.5)
  local s = string.format("[%s%s] %d/%d %3d%% %5.1f/s ETA %s", string.rep("#", fill), string.rep(".", width - fill),
    p.done, p.total, math.floor(frac * 100), p.rate or 0, M.duration(p.eta))
  if p.throttled > 0 then s = s .. " throttled " .. p.throttled end
  if p.failed > 0 then s = s .. " failed " .. p.failed end
  if (p.verifying or 0) > 0 then s = s .. " verifying " .. p.verifying end
  return s
end

--- The plain periodic line for a progress table.
-- @tparam table p a progress table
-- @treturn string
function M.line(p)
  local pct = p.total > 0 and math.floor(p.done * 100 / p.total) or 100
  return string.format("autopilot bulk: %d/%d done (%d%%), %d unassigned, %d failed, %d skipped, %d in flight, " ..
    "%.1f/s, ETA %s, %d throttled", p.done, p.total, pct, p.succeeded, p.failed, p.skipped, p.in_flight,
    p.rate or 0, M.duration(p.eta), p.throttled) .. ((p.verifying or 0) > 0 and (", verifying " .. p.verifying) or "")
end

local Tracker = {}
Tracker.__index = Tracker

--- A progress tracker.
-- @tparam table o `{ total = n, on_progress = fn|nil, mode = "bar"|"lines"|nil, stream = file|nil, now = fn|nil }`
-- @treturn table tracker with `:update(state)` and `:finish(state)`
function M.new(o)
  return setmetatable({
    total = o.total, on_progress = o.on_progress, mode = o.mode, stream = o.stream or io.stderr,
    now = o.now or clock.now, samples = {}, last_cb = -math.huge, last_draw = -math.huge, drawn = 0,
  }, Tracker)
end

-- Rate over the last WINDOW seconds; samples are kept ten a second at most, oldest first from `head`.
function Tracker:_rate(t, done)
  local samples = self.samples
  local tail = self.tail or 0
  local last = samples[tail]
  if not last or t - last[1] >= 0.1 then
    tail = tail + 1
    samples[tail] = { t, done }
    self.tail = tail
  end
  local head = self.head or 1
  while samples[head + 1] and samples[head + 1][1] <= t - WINDOW do
    samples[head] = nil
    head = head + 1
  end
  self.head = head
  local s0 = samples[head]
  local dt = t - s0[1]
  if dt <= 0 then return nil end
  return (done - s0[2]) / dt
end

--- The progress table for a state, with rate and ETA.
-- @tparam table st `{ done, succeeded, failed, skipped, in_flight, throttled }`
-- @treturn table progress table
function Tracker:snapshot(st)
  local t = self.now()
  local rate = self:_rate(t, st.done)
  local left = self.total - st.done
  local eta
  if left == 0 then eta = 0 elseif rate and rate > 0 then eta = left / rate end
  return {
    total = self.total, done = st.done, succeeded = st.succeeded, failed = st.failed, skipped = st.skipped,
    in_flight = st.in_flight, rate = rate or 0, eta = eta, throttled = st.throttled, verifying = st.verifying or 0,
  }, t
end

function Tracker:_draw(p, final)
  if self.mode == "bar" then
    local s = M.bar(p)
    local pad = self.drawn > #s and string.rep(" ", self.drawn - #s) or ""
    self.stream:write("\r", s, pad, final and "\n" or "")
    self.drawn = #s
  elseif self.mode == "lines" then
    -- a log needs no second copy of the same line when the run ends right after a periodic one
    local line = M.line(p)
    if line == self.last_line then return end
    self.last_line = line
    self.stream:write(line, "\n")
  end
  self.stream:flush()
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
      self:_draw(p, false)
    end
  end
end

--- The final state: always calls `on_progress` and draws once more (ending the bar's line).
-- @tparam table st see `snapshot`
function Tracker:finish(st)
  if not self.on_progress and not self.mode then return end
  local p = self:snapshot(st)
  if self.on_progress then self.on_progress(p) end
  if self.mode then self:_draw(p, true) end
end

return M
