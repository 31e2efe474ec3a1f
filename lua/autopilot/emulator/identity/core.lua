--- Shared helpers of the emulated identity platform: clock, ids, replies, records, lookups.
-- The `idp` table these take is built by `autopilot.emulator.identity.new`.
-- @module autopilot.emulator.identity.core
local cjson = require("cjson.safe").new()
local errors = require("autopilot.emulator.identity.errors")

local M = {}

M.GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
M.MSA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad" -- the tenant of personal Microsoft accounts
M.ERRORS_KEPT = 1000

local crypto_mod
--- The C crypto module (loaded on first use).
-- @treturn table autopilot.emulator.crypto
function M.crypto()
  crypto_mod = crypto_mod or require("autopilot.emulator.crypto")
  return crypto_mod
end

--- Emulated wall-clock seconds since 1970 for the emulated time `now`: the emulator started at the
-- real time of `identity.new`, and emulated time runs on from there (so `time_scale` speeds expiry up).
-- @tparam table idp
-- @tparam number now emulated seconds
-- @treturn integer
function M.epoch(idp, now)
  return math.floor(idp.epoch0 + (now - idp.now0))
end

--- A GUID from the emulator's seeded stream.
-- @tparam table idp
-- @treturn string
function M.guid(idp)
  return idp.rng:guid()
end

--- An integer in [m, n] from the seeded stream (works with `random` or `int` streams).
-- @tparam table idp
-- @tparam integer m
-- @tparam integer n
-- @treturn integer
function M.random(idp, m, n)
  local rng = idp.rng
  if rng.random then return rng:random(m, n) end
  return rng:int(m, n)
end

--- An unguessable string of `n` random bytes, base64url (from libcrypto, never from the seed).
-- @tparam integer n
-- @treturn string
function M.secret(n)
  local c = M.crypto()
  return (c.b64url_encode(c.random_bytes(n)):gsub("=+$", ""))
end

--- The hex SHA-256 of `s`: tables of live grants are keyed by it, so they never hold the grant itself.
-- @tparam string s
-- @treturn string
function M.hash(s)
  return (M.crypto().sha256(s):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

--- A JSON reply.
-- @tparam integer status
-- @tparam table value encoded with cjson
-- @tparam[opt] table headers extra headers
-- @treturn table host reply
function M.json(status, value, headers)
  local h = { ["Content-Type"] = "application/json; charset=utf-8", ["Cache-Control"] = "no-store, no-cache",
    ["Pragma"] = "no-cache" }
  for k, v in pairs(headers or {}) do h[k] = v end
  return { status = status, headers = h, body = assert(cjson.encode(value)) }
end

--- Records an error (never its secret inputs) and builds the service's error reply.
-- @tparam table idp
-- @tparam table req the request
-- @tparam number now emulated seconds
-- @tparam string name a key of `identity.errors.catalogue`
-- @tparam[opt] table args the text's values
-- @tparam[opt] table meta `{ endpoint =, grant =, client_id = }` for the record
-- @treturn table host reply
function M.fail(idp, req, now, name, args, meta)
  local reply, body = errors.reply(name, { guid = function() return M.guid(idp) end, epoch = M.epoch(idp, now),
    req = req }, args)
  meta = meta or {}
  local list = idp.stats.errors
  list[#list + 1] = { time = now, error = body.error, code = body.error_codes[1], endpoint = meta.endpoint,
    grant = meta.grant, client_id = meta.client_id, trace_id = body.trace_id }
  if #list > M.ERRORS_KEPT then table.remove(list, 1) end
  return reply
end

--- Classifies the `{tenant}` path segment.
-- @tparam table idp
-- @tparam string seg
-- @treturn string|nil "home" (this tenant, by GUID or domain), "common", "organizations", "consumers", or nil
function M.tenant_kind(idp, seg)
  local s = (seg or ""):lower()
  if s == idp.tenant or s == idp.tenant_domain:lower() then return "home" end
  if s == "common" or s == "organizations" or s == "consumers" then return s end
  return nil
end

--- The registered app for `client_id`, or nil.
-- @tparam table idp
-- @tparam string|nil client_id
-- @treturn table|nil
function M.app(idp, client_id)
  if type(client_id) ~= "string" then return nil end
  return idp.apps[client_id:lower()]
end

--- The app a token or devicecode request names, or the error reply for a missing or unknown client_id.
-- @tparam table idp
-- @tparam table req
-- @tparam number now
-- @tparam table params the request's form parameters
-- @tparam table meta for the error record
-- @treturn[1] table the app
-- @return[2] nil
-- @treturn[2] table the error reply
function M.requested_app(idp, req, now, params, meta)
  if not params.client_id then return nil, M.fail(idp, req, now, "missing", { "client_id" }, meta) end
  local app = M.app(idp, params.client_id)
  if not app then
    return nil, M.fail(idp, req, now, "unknown_app", { params.client_id, idp.tenant_domain }, meta)
  end
  return app
end

--- The request's base URL as its client sees it ("http://127.0.0.1:PORT").
-- @tparam table req
-- @treturn string
function M.base(req)
  local host = req.headers and req.headers.host or "127.0.0.1"
  return (req.scheme or "http") .. "://" .. host
end

--- Is `s` the Graph resource (URL or app id, with or without a trailing slash)?
-- @tparam table idp
-- @tparam string s
-- @treturn boolean
function M.is_graph(idp, s)
  s = (s or ""):lower():gsub("/+$", "")
  return s == idp.graph_resource:lower() or s == M.GRAPH_APP_ID
end

return M
