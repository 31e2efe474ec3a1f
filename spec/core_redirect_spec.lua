-- Redirects are never followed: a Graph endpoint that answers 301/302/307/308 with a Location on
-- another host gets its answer back as it is, and the other host sees nothing (least of all the bearer
-- token). Two echo servers on loopback: the one that redirects and the one it names.
local core = require "autopilot.core"
local emulator = require "autopilot.emulator"

describe("autopilot.core and redirects", function()
  local here, elsewhere
  lazy_setup(function()
    here = assert(emulator.start { app = "echo_app" })
    elsewhere = assert(emulator.start { app = "echo_app" })
  end)
  lazy_teardown(function()
    here:stop()
    elsewhere:stop()
  end)

  for _, status in ipairs { "301", "302", "307", "308" } do
    it("answers a " .. status .. " to another host as it is; the bearer token goes nowhere else", function()
      local s <close> = core.session { auth = { kind = "token", access_token = "secret.bearer.token" },
        max_retries = 2 }
      local r = s:request { method = "POST", url = here.url .. "/v1.0/x", body = "{}",
        headers = { ["x-reply-status"] = status, ["x-reply-header"] = "Location: " .. elsewhere.url .. "/stolen" } }
      assert.equal(tonumber(status), r.status)
      assert.equal(1, r.attempts)
      assert.equal(0, elsewhere:state().requests)
      assert.equal("Bearer secret.bearer.token", here:state().last.headers["authorization"])
    end)
  end
end)
