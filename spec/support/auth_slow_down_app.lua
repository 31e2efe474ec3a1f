--- A tenant app for spec/auth_device_code_spec.lua: the real emulator app, except that the first
-- `slow_down_polls` device-code polls are answered with the service's slow_down error (as the real
-- service does when a client polls too fast), and every device-code poll's time is recorded.
-- The emulator's own rule only answers slow_down to polls faster than the interval it announced, which a
-- well-behaved client never sends; this makes the service ask anyway so the client's answer can be seen.
-- `corrupt_device_code = true` hands out device codes the service does not know (bad_verification_code).
local inner = require "autopilot.emulator.app"
local errors = require "autopilot.emulator.identity.errors"

local M = {}

local DEVICE_GRANT = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"

function M.new(config, now)
  local slow = config.slow_down_polls or 0
  local corrupt = config.corrupt_device_code
  config.slow_down_polls, config.corrupt_device_code = nil, nil
  local app = inner.new(config, now)
  local w = { polls = {}, n = 0 }
  function w.handle(_, req)
    local is_poll = req.method == "POST" and (req.target or ""):find("/oauth2/v2.0/token", 1, true)
      and (req.body or ""):find(DEVICE_GRANT, 1, true)
    if is_poll and slow > 0 then
      slow = slow - 1
      w.n = w.n + 1
      w.polls[#w.polls + 1] = { time = req.now, result = "slow_down" }
      return (errors.reply("slow_down", { guid = function()
        return string.format("00000000-0000-4000-8000-%012d", w.n) end, epoch = os.time(), req = req }, { 6 }))
    end
    local resp = app:handle(req)
    if corrupt and resp.status == 200 and (req.target or ""):find("/oauth2/v2.0/devicecode", 1, true) then
      resp.body = resp.body:gsub('"device_code":"', '"device_code":"X') -- as if mistyped or truncated
    end
    if is_poll then w.polls[#w.polls + 1] = { time = req.now, result = resp.status == 200 and "success" or "error" } end
    return resp
  end
  function w.state(_, arg, t)
    local s = app:state(arg, t)
    s.wrapper_polls = w.polls
    return s
  end
  function w.info(_, ...) return app:info(...) end
  function w.configure(_, ...) return app:configure(...) end
  return w
end

return M
