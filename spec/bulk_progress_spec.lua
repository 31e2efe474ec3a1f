-- autopilot.bulk.progress: the pure formatting (bar, line, durations, width, ETA), the tracker's phases and
-- rate, and the bar drawn by a real bulk run against the emulator in a narrow tmux pane.
local progress = require "autopilot.bulk.progress"
local files = require "files"
local shell = require "shell"
local paths = require "paths"

local function p_of(t)
  local p = { total = 200, done = 50, succeeded = 40, failed = 2, skipped = 8, in_flight = 8, rate = 4.9, eta = 31,
              throttled = 3, verifying = 0, verified = 40, phase = "write" }
  for k, v in pairs(t or {}) do p[k] = v end
  return p
end

describe("progress formatting", function()
  it("formats the bar with rate, ETA, failures and 429s", function()
    assert.are.equal("[######..................] 50/200 25% 4.9/s ETA 31s failed 2 429s 3", progress.bar(p_of(), 80))
  end)

  it("never makes a line longer than the width: narrows the bar, drops it, drops extras, then cuts", function()
    for width = 1, 90 do
      for _, phase in ipairs { "write", "waiting", "verify", "done" } do
        local s = progress.bar(p_of { phase = phase, wait = 3, verifying = 7 }, width)
        assert.is_true(#s <= width, width .. " " .. phase .. ": " .. s)
      end
    end
    assert.are.equal("[#....] 50/200 25% 4.9/s ETA 31s failed 2 429s 3", progress.bar(p_of(), 48))
    assert.are.equal("50/200 25% 4.9/s ETA 31s failed 2 429s 3", progress.bar(p_of(), 47))
    assert.are.equal("50/200 25% 4.9/s ETA 31s failed 2", progress.bar(p_of(), 39))
    assert.are.equal("50/200 25% 4.9/s", progress.bar(p_of(), 22))
    assert.are.equal("50/200 25%", progress.bar(p_of(), 10))
    assert.are.equal("50/200 2>", progress.bar(p_of(), 9))
  end)

  it("shows waiting for the budget as such, not a zero rate", function()
    local s = progress.bar(p_of { phase = "waiting", wait = 4, rate = nil, eta = nil }, 80)
    assert.matches("waiting for budget 4s", s, 1, true)
    assert.is_nil(s:find("/s", 1, true))
    assert.is_nil(s:find("ETA", 1, true))
    assert.matches("waiting for budget 4s", progress.line(p_of { phase = "waiting", wait = 4 }), 1, true)
  end)

  it("shows the verify phase apart and never 100% before the end", function()
    local s = progress.bar(p_of { done = 200, succeeded = 190, phase = "verify", verifying = 30, verified = 160 }, 80)
    assert.matches("verify 160/190 84%% 30 left", s)
    assert.is_nil(s:find("100%", 1, true))
    assert.matches(" 99%", progress.bar(p_of { done = 199 }, 80), 1, true)
    assert.matches(" 100%", progress.bar(p_of { done = 200, phase = "done" }, 80), 1, true)
    assert.matches("verify %d+/%d+ %d+%% %d+ left", progress.bar(p_of { phase = "verify", verifying = 1,
      verified = 0 }, 80))
  end)

  it("formats the plain line", function()
    assert.are.equal("autopilot bulk: 50/200 done (25%), 40 unassigned, 2 failed, 8 skipped, 8 in flight, " ..
      "4.9/s, ETA 31s, 3 throttled", progress.line(p_of()))
  end)

  it("formats durations and cuts lines", function()
    assert.are.equal("45s", progress.duration(45))
    assert.are.equal("6m02s", progress.duration(362))
    assert.are.equal("1h05m", progress.duration(3900))
    assert.are.equal("?", progress.duration(nil))
    assert.are.equal("abc", progress.truncate("abc", 3))
    assert.are.equal("a>", progress.truncate("abc", 2))
  end)

  it("takes the ETA from the pacing budget, else from the achieved rate", function()
    assert.are.equal(20, progress.eta(100, 5, 50))
    assert.are.equal(2, progress.eta(100, nil, 50))
    assert.is_nil(progress.eta(100, nil, nil))
    assert.are.equal(0, progress.eta(0, nil, nil))
  end)

  it("reads the width from COLUMNS, else the terminal, else a default", function()
    local out = shell.output(paths.env() .. " COLUMNS=37 lua5.4 -e 'print(require(\"autopilot.bulk.progress\")" ..
      ".terminal_width())' </dev/null 2>/dev/null")
    assert.are.equal("37", out:match("%d+"))
    out = shell.output(paths.env() .. " COLUMNS= lua5.4 -e 'print(require(\"autopilot.bulk.progress\")" ..
      ".terminal_width())' 2>/dev/null </dev/null")
    assert.are.equal(tostring(progress.DEFAULT_WIDTH), out:match("%d+"))
  end)
end)

describe("progress tracker", function()
  local function tracker(o)
    local clock = { t = 0 }
    local calls = {}
    o.now = function() return clock.t end
    o.on_progress = function(x) calls[#calls + 1] = x end
    return progress.new(o), clock, calls
  end

  it("rates succeeded writes per second of writing and calls back at most ten times a second", function()
    local tr, clock, calls = tracker { total = 100 }
    local st = { done = 0, succeeded = 0, failed = 0, skipped = 0, in_flight = 0, throttled = 0 }
    tr:update(st)
    assert.is_nil(calls[1].rate) -- nothing written yet: no rate, not 0.0/s
    for i = 1, 50 do
      clock.t = i * 0.2
      st.done, st.succeeded = i, i
      tr:update(st)
    end
    assert.are.equal(51, #calls)
    assert.are.equal(5, calls[#calls].rate)
    assert.are.equal(10, calls[#calls].eta)
    tr:update(st)
    assert.are.equal(51, #calls)
    st.write_seconds = 8 -- the runner's measure at the end: the report's achieved_rate
    tr:finish(st)
    assert.are.equal(50 / 8, calls[#calls].rate)
    assert.are.equal("done", calls[#calls].phase)
  end)

  it("says it waits for the budget from the session's stats, and uses the budget for the ETA", function()
    local stats = { queued_writes = 4, write_wait = 2.5, adapted_rate = 5 }
    local tr, _, calls = tracker { total = 100, stats = function() return stats end }
    tr:update { done = 10, succeeded = 10, failed = 0, skipped = 0, in_flight = 4, throttled = 0 }
    assert.are.equal("waiting", calls[1].phase)
    assert.are.equal(2.5, calls[1].wait)
    assert.are.equal(18, calls[1].eta) -- 90 left at 5 writes/s
  end)

  it("enters the verify phase when every write is answered and checks remain", function()
    local tr, _, calls = tracker { total = 10 }
    tr:update { done = 10, succeeded = 10, failed = 0, skipped = 0, in_flight = 0, throttled = 0, verifying = 4 }
    assert.are.equal("verify", calls[1].phase)
    assert.are.equal(6, calls[1].verified)
  end)

  it("redraws the bar in place: a carriage return, the line, clear to its end; a new line only at the end", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local clock = { t = 0 }
    local tr = progress.new { total = 2, mode = "bar", stream = f, now = function() return clock.t end, width = 30 }
    local st = { done = 1, succeeded = 1, failed = 0, skipped = 0, in_flight = 1, throttled = 0 }
    tr:update(st)
    clock.t, st.done = 1, 2
    tr:finish(st)
    f:close()
    local text = files.slurp(path)
    os.remove(path)
    local n = 0
    for line in text:gmatch("\r([^\r\n]*)\27%[K") do
      n = n + 1
      assert.is_true(#line <= 29, line)
    end
    assert.are.equal(2, n)
    assert.matches("100%", text, 1, true)
    local _, newlines = text:gsub("\n", "")
    assert.are.equal(1, newlines)
    assert.matches("\n$", text)
  end)

  it("writes plain lines when not on a terminal, without repeating the last one at the finish", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local clock = { t = 100 }
    local tr = progress.new { total = 2, mode = "lines", stream = f, now = function() return clock.t end }
    local st = { done = 2, succeeded = 2, failed = 0, skipped = 0, in_flight = 0, throttled = 0 }
    tr:update(st)
    clock.t = 101
    tr:finish(st)
    st.failed = 1
    tr:finish(st)
    f:close()
    local text = files.slurp(path)
    os.remove(path)
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.is_nil(text:find("\r", 1, true))
    assert.is_true(#lines >= 2)
    assert.not_equal(lines[#lines - 1], lines[#lines])
  end)

  it("says what a retry waits for until it leaves, then goes back to writing", function()
    local tr, clock, calls = tracker { total = 10 }
    local st = { done = 1, succeeded = 1, failed = 0, skipped = 0, in_flight = 1, throttled = 0 }
    tr:note_retry { reason = "connection refused", retry = 2, of = 6, wait = 1.2 }
    tr:update(st)
    assert.are.equal("waiting", calls[1].phase)
    assert.are.equal("connection refused", calls[1].waiting_for)
    assert.are.equal(1.2, calls[1].wait)
    assert.matches("retrying: connection refused 1s", progress.bar(calls[1], 80), 1, true)
    assert.matches(", retrying: connection refused 1s,", progress.line(calls[1]), 1, true)
    clock.t = 1.3
    tr:update(st)
    assert.are.equal("write", calls[2].phase)
    assert.is_nil(calls[2].waiting_for)
  end)

  it("prints a line above the bar and draws the bar again below it", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local tr = progress.new { total = 4, mode = "bar", stream = f, now = function() return 0 end, width = 40 }
    tr:say("before any bar")
    tr:update { done = 1, succeeded = 1, failed = 0, skipped = 0, in_flight = 1, throttled = 0 }
    tr:say(progress.retry_line { reason = "connection refused", retry = 2, of = 6, wait = 1.23 })
    f:close()
    local text = files.slurp(path)
    os.remove(path)
    local bar = text:match("^before any bar\n\r([^\r\n]-)\27%[K")
    assert.is_truthy(bar, text)
    assert.are.equal("before any bar\n\r" .. bar .. "\27[K"
      .. "\r\27[Kretrying: connection refused (2 of 6, next in 1.2 s)\n\r" .. bar .. "\27[K", text)
  end)

  it("names what a succeeded write did in the plain line: restored for a restore run", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local tr = progress.new { total = 2, mode = "lines", stream = f, now = function() return 0 end, verb = "restored" }
    tr:finish { done = 2, succeeded = 2, failed = 0, skipped = 0, in_flight = 0, throttled = 0 }
    f:close()
    local text = files.slurp(path)
    os.remove(path)
    assert.matches(", 2 restored, 0 failed,", text, 1, true)
    assert.is_nil(text:find("unassigned", 1, true))
  end)

  it("maps the progress option to a display mode", function()
    assert.is_nil(progress.mode(false))
    assert.are.equal("bar", progress.mode("bar"))
    assert.are.equal("lines", progress.mode("lines"))
    local auto = progress.mode("auto")
    assert.is_true(auto == "bar" or auto == "lines")
  end)
end)

-- Runs a support script in a detached tmux pane (50 columns unless told): the screen at its end and every
-- byte written.
local function in_pane(script, width)
  local dir = shell.output("mktemp -d"):gsub("%s+$", "")
  local sock, go, raw = dir .. "/tmux.sock", dir .. "/go", dir .. "/raw"
  local tmux = "tmux -S " .. shell.quote(sock) .. " -f /dev/null "
  shell.check("mkfifo " .. shell.quote(go))
  local cwd = os.getenv("PWD")
  -- the pane waits on a fifo until its output is recorded, and after signalling the end until captured
  local inner = "cd " .. shell.quote(cwd) .. " && read x < " .. shell.quote(go) .. "; " .. paths.env() ..
    " COLUMNS= lua5.4 " .. script .. "; echo \"exit $?\"; " .. tmux .. "wait-for -S finished; read y < "
    .. shell.quote(go)
  shell.check(tmux .. "new-session -d -x " .. (width or 50) .. " -y 20 -s pane " .. shell.quote(inner))
  shell.check(tmux .. "pipe-pane -t pane -o " .. shell.quote("cat > " .. shell.quote(raw)))
  shell.check("echo > " .. shell.quote(go))
  shell.check("timeout 120 " .. tmux .. "wait-for finished")
  local screen = shell.output(tmux .. "capture-pane -p -t pane")
  shell.check("echo > " .. shell.quote(go))
  shell.ok(tmux .. "kill-server")
  local bytes = files.slurp(raw)
  shell.check("rm -rf " .. shell.quote(dir))
  return screen, bytes
end

describe("progress in a 50-column terminal", function()
  it("never wraps, redraws in place, shows waiting and verifying, and ends with the summary's rate", function()
    local screen, bytes = in_pane("spec/support/progress_pane.lua")
    local lines = {}
    for l in (screen .. "\n"):gmatch("(.-)\n") do
      l = l:gsub("%s+$", "")
      assert.is_true(#l <= 50, "longer than the pane: " .. l)
      if l ~= "" then lines[#lines + 1] = l end
    end
    -- the final bar, the summary's rate, the exit status: no line left behind by a redraw
    assert.are.equal(3, #lines, screen)
    assert.matches("^%[#+%] 20/20 100%% ", lines[1])
    assert.are.equal("exit 0", lines[3])
    local bar_rate = assert(lines[1]:match(" ([%d.]+)/s"), lines[1])
    assert.are.equal("summary " .. bar_rate .. " writes/s", lines[2])

    local draws = {}
    for d in bytes:gmatch("\r([^\r\n]*)\27%[K") do draws[#draws + 1] = d end
    assert.is_true(#draws > 2, bytes)
    local waited, verified = false, false
    for _, d in ipairs(draws) do
      if d:find("waiting for budget", 1, true) then waited = true end
      if d:find("%] verify ") then verified = true end
      -- 100% only once nothing is left to verify
      assert.is_false(d:find("100%", 1, true) ~= nil and d:find("verif", 1, true) ~= nil, d)
    end
    assert.is_true(waited, "no 'waiting for budget' shown")
    assert.is_true(verified, "no verify phase shown")
  end)

  it("prints a retry's line above the bar, which goes on below it; nothing else is left on the screen", function()
    local screen, bytes = in_pane("spec/support/retry_pane.lua", 80)
    local lines = {}
    for l in (screen .. "\n"):gmatch("(.-)\n") do
      l = l:gsub("%s+$", "")
      if l ~= "" then lines[#lines + 1] = l end
    end
    assert.are.equal(4, #lines, screen)
    assert.matches("^retrying: HTTP 503 %(service unavailable%) %(1 of 6, next in 1%.0 s%)$", lines[1])
    assert.matches("^%[#+%] 10/10 100%% ", lines[2])
    assert.are.equal("retried 1", lines[3])
    assert.are.equal("exit 0", lines[4])
    -- said over a bar already drawn (one write at a time: the last write's 503 comes after the first draw):
    -- the bar's line is cleared, the message printed, the bar drawn again below it
    local before, again = bytes:match("\r([^\r\n]*)\27%[K\r\27%[Kretrying: [^\n]*\n\r([^\r\n]*)\27%[K")
    assert.is_truthy(before, bytes)
    assert.matches("%] %d+/10 ", before)
    assert.are.equal(before, again)
  end)
end)
