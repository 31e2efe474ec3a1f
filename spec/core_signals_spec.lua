-- core.catch_signals and core.pending_signal, in child lua5.4 processes (signals sent to this one would stop
-- busted): the first SIGINT or SIGTERM is recorded, a second ends the process by its default action, and
-- loading the core alone installs nothing (a library leaves its host's signal dispositions alone).
local files = require "files"
local paths = require "paths"
local shell = require "shell"

local q = shell.quote

-- the child: optionally catch, tell it is ready, then report the first pending signal and keep running
local CHILD = [[
local core = require "autopilot.core"
local dir, catch = arg[1], arg[2] == "catch"
if catch then assert(core.catch_signals()); assert(core.catch_signals()) end -- twice: idempotent
local function put(name, text) local f = assert(io.open(dir .. "/" .. name, "w")); f:write(text); f:close() end
put("ready", "yes")
local told = false
while true do
  local sig, n = core.pending_signal()
  if sig and not told then put("seen", sig .. " " .. n); told = true end
  core.sleep(0.02)
end
]]

local function text_of(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- polls until `ready()`; the give-up only ends a broken run's wait, it decides nothing
local function wait_for(ready, what)
  for _ = 1, 2400 do
    if ready() then return end
    os.execute("sleep 0.05")
  end
  error("gave up waiting for " .. what)
end

describe("core signals", function()
  local dir

  before_each(function()
    dir = files.tempdir()
    files.write(dir .. "/child.lua", CHILD)
  end)

  after_each(function() files.remove(dir) end)

  -- starts the child; returns its pid and a function waiting for its exit status (128 + n when signal n ended it)
  local function start(mode)
    local cmd = paths.env() .. " lua5.4 " .. q(dir .. "/child.lua") .. " " .. q(dir) .. " " .. mode
      .. " >/dev/null 2>" .. q(dir .. "/err") .. " </dev/null"
    assert(os.execute("(" .. cmd .. " & echo $! >" .. q(dir .. "/pid") .. "; wait $!; echo $? >" .. q(dir .. "/status")
      .. ") >/dev/null 2>&1 &"))
    wait_for(function() return text_of(dir .. "/ready") == "yes" and text_of(dir .. "/pid"):find("%d") end,
      "the child")
    local pid = assert(tonumber(text_of(dir .. "/pid"):match("%d+")))
    return pid, function()
      wait_for(function() return text_of(dir .. "/status"):find("%d") end, "the child to end")
      return tonumber(text_of(dir .. "/status"):match("%d+"))
    end
  end

  it("records the first SIGTERM; a second signal ends the process at once", function()
    local pid, ended = start("catch")
    os.execute("kill -TERM " .. pid)
    wait_for(function() return text_of(dir .. "/seen") ~= "" end, "the signal to be seen")
    assert.equal("SIGTERM 1", text_of(dir .. "/seen"))
    os.execute("kill -INT " .. pid)
    assert.equal(128 + 2, ended()) -- SIGINT's default action
    assert.equal("", text_of(dir .. "/err"))
  end)

  it("records the first SIGINT (not Lua's 'interrupted!' error)", function()
    local pid, ended = start("catch")
    os.execute("kill -INT " .. pid)
    wait_for(function() return text_of(dir .. "/seen") ~= "" end, "the signal to be seen")
    assert.equal("SIGINT 1", text_of(dir .. "/seen"))
    os.execute("kill -TERM " .. pid)
    assert.equal(128 + 15, ended())
    assert.equal("", text_of(dir .. "/err"))
  end)

  it("installs nothing when only loaded: SIGTERM ends the process as before", function()
    local pid, ended = start("load")
    os.execute("kill -TERM " .. pid)
    assert.equal(128 + 15, ended())
    assert.equal("", text_of(dir .. "/seen"))
  end)

  it("reports nothing pending in a process that caught nothing", function()
    local core = require "autopilot.core"
    local sig, n = core.pending_signal()
    assert.is_nil(sig)
    assert.equal(0, n)
  end)
end)
