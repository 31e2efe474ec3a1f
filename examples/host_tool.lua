--- Embedding lua-autopilot in a host tool (a ticketing bot, an HR workflow, a web hook): one function the
-- host calls, which never raises for anything the network or service does, reports progress through the
-- host's own logger, and answers with plain data (here printed as JSON).
--
--     lua5.4 examples/host_tool.lua SERIAL [SERIAL...]
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/host_tool.lua
--
-- What to take from it: `progress = false` plus `on_progress` (no terminal output from the library), error
-- values branched on `err.status`, the report's per-device results mapped to the host's own shape, and
-- `tostring(err)` for logs (never a token or secret).
local cjson = require "cjson"
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")

--- The host's logger: here, lines on stderr with a level.
local function log(level, msg)
  io.stderr:write(os.date("!%H:%M:%S "), level, " ", msg, "\n")
end

--- What the host calls: offboard the devices of these serial numbers.
-- @tparam autopilot.Client client
-- @tparam table serials serial numbers
-- @treturn table `{ ok = boolean, done = n, failed = n, devices = { { serial =, id =, result = } }, error = text }`
local function offboard(client, serials, limit)
  local last_logged = -1
  local report, err = client:unassign_users({ serials = serials }, {
    progress = false, limit = limit,
    on_progress = function(p)
      -- the callback runs up to ten times a second: the host logs each tenth of the way
      local tenth = p.total > 0 and (p.done * 10) // p.total or 10
      if tenth ~= last_logged then
        last_logged = tenth
        log("INFO", string.format("offboarding %d/%d (%s)", p.done, p.total, p.phase))
      end
    end,
  })
  if not report then
    -- nothing was written; a 401/403 means the app lacks its permission, anything else may be retried later
    local retry = not (err.status == 401 or err.status == 403)
    log("ERROR", tostring(err))
    return { ok = false, done = 0, failed = #serials, devices = {}, error = err.message, retry_later = retry }
  end
  local devices = {}
  for i, r in ipairs(report.results) do
    devices[i] = { serial = r.serial, id = r.id, result = r.outcome, detail = r.message }
  end
  if report.error then log("ERROR", "run stopped: " .. tostring(report.error)) end
  return { ok = report.failed == 0, done = report.succeeded, failed = report.failed, devices = devices,
           error = report.error and report.error.message or nil }
end

local serials = { table.unpack(arg) }
if #serials == 0 and ex.emu then
  for _, d in ipairs(ex.emu:state { log = false }.devices) do
    if d.userPrincipalName ~= "" and #serials < 6 then serials[#serials + 1] = d.serialNumber end
  end
end
if #serials == 0 then
  io.stderr:write("usage: lua5.4 examples/host_tool.lua SERIAL [SERIAL...]\n")
  ex.exit(2)
end

local answer = offboard(ex.client, serials, ex.limit)
print(cjson.encode(answer))
ex.exit(answer.ok and 0 or 1)
