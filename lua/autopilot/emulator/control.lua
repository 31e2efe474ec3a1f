--- The emulator's control path for clients in any language: `GET /_emulator/state` and
-- `POST /_emulator/configure` on the emulator's own port, the same calls `Emulator:state` and
-- `Emulator:configure` make from Lua.
--
-- Guarded by an admin key: generated at start (printed by `autopilot-emulator` as `admin_key:`, returned by
-- `autopilot.emulator.start` as `emu.admin_key`) or given as the config key `admin_key` (at least 16
-- characters); `admin_key = false` turns the path off (404, as any unknown path). A request must carry it as
-- `Authorization: Emulator <key>` or `X-Emulator-Key: <key>`; without it, or with a wrong one, the answer is
-- 401 and nothing is read or changed. Control requests are not Graph traffic: no latency, fault, throttle,
-- counter or log entry.
--
-- `GET /_emulator/state` takes the query items `devices=false`, `device=<id>` and `log=<n>|false` (see
-- the tenant app's `state`) and answers its table as JSON. `POST /_emulator/configure` takes a JSON object
-- (any key of the tenant app's `configure`, identity's included: apps, users, device_code approvals, faults,
-- throttle, advance) and answers `{"ok":true}`, or 400 with the reason and nothing changed.
-- @module autopilot.emulator.control
local cjson = require("cjson.safe").new()
local odata = require "autopilot.emulator.odata"
local core = require "autopilot.emulator.identity.core"
local jwt = require "autopilot.emulator.jwt"

local M = {}

M.PREFIX = "/_emulator/"

--- The admin key the config asks for.
-- @tparam any v config.admin_key: nil (generate one), false (no control path) or a string of 16+ characters
-- @treturn string|false the key
function M.key(v)
  if v == nil then return core.secret(24) end
  if v == false then return false end
  if type(v) ~= "string" or #v < 16 or v:find("[%c%s]") then
    error("autopilot.emulator: admin_key must be false or a string of at least 16 characters, no spaces", 0)
  end
  return v
end

--- Is `path` on the control path?
-- @tparam string path the request path (no query)
-- @treturn boolean
function M.match(path)
  return path:byte(2) == 95 and path:sub(1, #M.PREFIX) == M.PREFIX -- 95: "_", a cheap first test
end

local function presented(headers)
  local auth = headers["authorization"]
  local k = auth and auth:match("^[Ee]mulator%s+(%S+)%s*$")
  return k or headers["x-emulator-key"]
end

local function answer(status, value)
  local body = cjson.encode(value) or '{"error":{"code":"InternalServerError","message":"unencodable"}}'
  return { status = status, headers = { ["Content-Type"] = "application/json", ["Cache-Control"] = "no-store" },
    body = body }
end

local function failure(status, code, message)
  return answer(status, { error = { code = code, message = message } })
end

local function state_arg(qs)
  local _, q = odata.parse_query(qs)
  local arg = {}
  if q.devices == "false" then arg.devices = false end
  if q.device and q.device ~= "" then arg.device = q.device end
  if q.log == "false" then arg.log = false
  elseif q.log then
    local n = math.tointeger(tonumber(q.log))
    if not n or n < 0 then return nil, "log must be a whole number or false" end
    arg.log = n
  end
  return arg
end

--- Answers one control request.
-- @tparam table app the tenant app (`admin_key`, `state`, `configure`)
-- @tparam table req the host's request (`method`, `target`, `headers`, `body`, `now`)
-- @tparam string path the target's path
-- @treturn table resp `{ status, headers, body }`
function M.handle(app, req, path)
  if not app.admin_key then return failure(404, "NotFound", "No control path on this emulator.") end
  -- compared in constant time, so timing does not reveal a key's prefix
  if not jwt.equal(presented(req.headers or {}), app.admin_key) then
    return failure(401, "Unauthorized", "The control path needs the admin key the emulator printed at start.")
  end
  local method = (req.method or "GET"):upper()
  local name = path:sub(#M.PREFIX + 1)
  local qs = (req.target or ""):match("%?(.*)$") or ""
  if name == "state" then
    if method ~= "GET" then return failure(405, "MethodNotAllowed", "state takes GET.") end
    local arg, err = state_arg(qs)
    if not arg then return failure(400, "BadRequest", err) end
    return answer(200, app:state(arg, req.now))
  elseif name == "configure" then
    if method ~= "POST" then return failure(405, "MethodNotAllowed", "configure takes POST.") end
    local arg = cjson.decode(req.body or "")
    if type(arg) ~= "table" then return failure(400, "BadRequest", "configure takes a JSON object.") end
    local ok, err = pcall(app.configure, app, arg, req.now)
    if not ok then return failure(400, "BadRequest", tostring(err)) end
    return answer(200, { ok = true })
  end
  return failure(404, "NotFound", "Unknown control call '" .. name .. "' (state, configure).")
end

return M
