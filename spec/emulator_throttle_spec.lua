-- Throttling over real sockets: Intune's budgets per window, the 429 shape, Retry-After forms,
-- the emulated clock's scale, and the count of early retries.
local emulator = require "autopilot.emulator"
local peer = require "graph_peer"
local tenant = require "tenant"

local P1 = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"
local RW2 = "33333333-4444-4555-8666-777777777777"

local function unassign_path(id) return P1 .. "/" .. id .. "/unassignUserFromDevice" end

describe("emulated Graph: throttling", function()
  local emu, call, ids
  before_each(function()
    emu = assert(emulator.start({ devices = 40, seed = 5,
      throttle = { app_writes = 3, tenant_writes = 5, app_requests = 50, tenant_requests = 80, window = 20 },
      apps = { { client_id = RW2, client_secret = "rw2-secret",
        roles = { "DeviceManagementServiceConfig.ReadWrite.All" } } } }))
    call = peer.connect(emu)
    ids = tenant.ids(emu)
  end)
  after_each(function() emu:stop() end)

  it("answers 429 with the documented body and an integer Retry-After past the app's write budget", function()
    for i = 1, 3 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    local r = call("POST", unassign_path(ids[4]))
    assert.equal(429, r.status)
    local ra = tonumber(r.headers["retry-after"])
    assert.is_true(ra >= 1 and ra <= 20 and math.type(ra) == "integer")
    assert.equal("TooManyRequests", r.json.error.code)
    assert.equal("Please retry again later.", r.json.error.message)
    assert.equal("429", r.json.error.innerError.code)
    assert.equal("429", r.json.error.innerError.status)
    assert.equal("Please retry after", r.json.error.innerError.message)
    assert.equal(r.headers["request-id"], r.json.error.innerError["request-id"])
    assert.equal(200, call("GET", P1 .. "/" .. ids[4]).status) -- reads have their own budget
    local st = emu:state({ devices = false })
    assert.equal(1, st.throttled)
    assert.equal(1, st.counters.unassignUserFromDevice["429"])
    assert.equal(3, st.counters.unassignUserFromDevice["204"])
    assert.is_true(st.device_count == 40)
    assert.is_nil(st.writes[ids[4]])
  end)

  it("spends the tenant's budget across apps", function()
    local other = peer.connect(emu, RW2, "rw2-secret")
    for i = 1, 3 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    assert.equal(204, other("POST", unassign_path(ids[4])).status)
    assert.equal(204, other("POST", unassign_path(ids[5])).status)
    assert.equal(429, other("POST", unassign_path(ids[6])).status) -- tenant: 5 writes
  end)

  it("limits all requests per app too", function()
    local statuses = {}
    for i = 1, 51 do statuses[i] = call("GET", P1 .. "/" .. ids[1 + i % 40]).status end
    assert.equal(200, statuses[50])
    assert.equal(429, statuses[51])
  end)

  it("opens a new window once the emulated clock passes it", function()
    for i = 1, 3 do call("POST", unassign_path(ids[i])) end
    assert.equal(429, call("POST", unassign_path(ids[4])).status)
    emu:configure({ advance = 20 })
    assert.equal(204, call("POST", unassign_path(ids[4])).status)
  end)

  it("counts retries before the Retry-After as early: by client-request-id, else app + path", function()
    for i = 1, 3 do call("POST", unassign_path(ids[i])) end
    local crid = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    local r = call("POST", unassign_path(ids[4]), { headers = { ["client-request-id"] = crid } })
    assert.equal(429, r.status)
    r = call("POST", unassign_path(ids[4]), { headers = { ["client-request-id"] = crid, ["Retry-Attempt"] = "1" } })
    assert.equal(429, r.status)
    assert.equal(1, emu:state({ devices = false }).early_retries)
    -- no client-request-id: the same app and path within the wait
    assert.equal(429, call("POST", unassign_path(ids[5])).status)
    assert.equal(429, call("POST", unassign_path(ids[5])).status)
    assert.equal(2, emu:state({ devices = false }).early_retries)
    -- a different path is no retry
    assert.equal(429, call("POST", unassign_path(ids[6])).status)
    local st = emu:state({ devices = false })
    assert.equal(2, st.early_retries)
    -- a retry after the wait is not early
    emu:configure({ advance = 20 })
    r = call("POST", unassign_path(ids[4]), { headers = { ["client-request-id"] = crid, ["Retry-Attempt"] = "2" } })
    assert.equal(204, r.status)
    st = emu:state({ devices = false })
    assert.equal(2, st.early_retries)
    local last = st.log[#st.log]
    assert.equal("2", last["retry-attempt"])
    assert.equal(crid, last["client-request-id"])
    assert.equal(false, last.early)
  end)

  it("sends Retry-After as decimal, HTTP-date or not at all, as configured", function()
    for i = 1, 3 do call("POST", unassign_path(ids[i])) end
    emu:configure({ throttle = { retry_after = "decimal" } })
    assert.matches("^%d+%.%d%d%d$", call("POST", unassign_path(ids[4])).headers["retry-after"])
    emu:configure({ throttle = { retry_after = "date" } })
    assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$",
      call("POST", unassign_path(ids[4])).headers["retry-after"])
    emu:configure({ throttle = { retry_after = "absent" } })
    local r = call("POST", unassign_path(ids[4]))
    assert.equal(429, r.status)
    assert.is_nil(r.headers["retry-after"])
    emu:configure({ throttle = { retry_after = { integer = 1, decimal = 1, date = 1, absent = 1 } } })
    local forms = {}
    for _ = 1, 40 do
      local v = call("POST", unassign_path(ids[5])).headers["retry-after"]
      forms[not v and "absent" or v:find("GMT") and "date" or v:find("%.") and "decimal" or "integer"] = true
    end
    assert.same({ integer = true, decimal = true, date = true, absent = true }, forms)
  end)

  it("is switched off and on at run time", function()
    emu:configure({ throttle = false })
    for i = 1, 8 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    emu:configure({ throttle = true })
    emu:configure({ advance = 20 })
    for i = 1, 3 do assert.equal(204, call("POST", unassign_path(ids[i])).status) end
    assert.equal(429, call("POST", unassign_path(ids[4])).status)
  end)

  it("throttles each $batch item on its own", function()
    local reqs = {}
    for i = 1, 5 do
      reqs[i] = { id = tostring(i), method = "POST",
        url = "/deviceManagement/windowsAutopilotDeviceIdentities/" .. ids[i] .. "/unassignUserFromDevice" }
    end
    local r = call("POST", "/v1.0/$batch", { body = require("cjson").encode({ requests = reqs }),
      headers = { ["client-request-id"] = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff" } })
    assert.equal(200, r.status)
    local n204, n429 = 0, 0
    for _, x in ipairs(r.json.responses) do
      if x.status == 204 then n204 = n204 + 1 end
      if x.status == 429 then
        n429 = n429 + 1
        assert.is_string(x.headers["Retry-After"])
        assert.equal("TooManyRequests", x.body.error.code)
      end
    end
    assert.same({ 3, 2 }, { n204, n429 })
    local st = emu:state({ devices = false })
    assert.equal(0, st.early_retries) -- siblings in one batch are not retries of each other
    assert.equal(2, st.throttled)
  end)
end)

describe("emulated Graph: throttling on a scaled clock", function()
  it("sends Retry-After in real seconds, so honouring it lands in the next window", function()
    local emu = assert(emulator.start({ devices = 5, seed = 1, time_scale = 10,
      throttle = { app_writes = 1, window = 20, retry_after = "decimal" } }))
    local call = peer.connect(emu)
    local ids = tenant.ids(emu)
    assert.equal(204, call("POST", unassign_path(ids[1])).status)
    local r = call("POST", unassign_path(ids[2]))
    assert.equal(429, r.status)
    local wait = tonumber(r.headers["retry-after"])
    assert.is_true(wait > 0 and wait <= 2.0) -- 20 emulated seconds at most, / 10
    peer.sh(string.format("sleep %.3f", wait + 0.05))
    assert.equal(204, call("POST", unassign_path(ids[2])).status)
    local st = emu:state({ devices = false })
    assert.equal(0, st.early_retries)
    assert.equal(10, st.time_scale)
    emu:stop()
  end)
end)
