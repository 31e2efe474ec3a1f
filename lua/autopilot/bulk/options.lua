--- Options of a bulk run: defaults and checks. A wrong key or type raises, naming the key.
-- @module autopilot.bulk.options
local checks = require "autopilot.checks"

local M = {}

--- Defaults (Intune's per-app write limit: 100 writes per 20 seconds in a tenant).
M.DEFAULTS = {
  concurrency = 8,
  limit = { writes = 100, seconds = 20 },
  verify = { timeout = 60, interval = 2 },
}

local KNOWN = {
  concurrency = true, limit = true, batch = true, journal = true, dry_run = true, force = true, verify = true,
  on_progress = true, progress = true, via_profile = true, stop = true,
}

-- options a restore does not take: it never overwrites a user (force)
local NOT_FOR = { restore = { force = true } }

local fname = "unassign_users" -- the public name in messages, set by `check` for the call at hand

local function fail(msg)
  error(fname .. ": " .. msg, 4)
end

local function check_type(opts, key, expected)
  local v = opts[key]
  if v ~= nil and type(v) ~= expected then
    fail(string.format("option '%s' must be a %s, got %s", key, expected, type(v)))
  end
  return v
end

local function positive_number(v, name)
  if not checks.is_positive(v) then
    fail(string.format("option '%s' must be a positive number, got %s", name, tostring(v)))
  end
  return v
end

--- Check options and fill in defaults.
-- @tparam[opt] table opts see `autopilot.bulk.run` and `autopilot.bulk.restore.run`
-- @tparam[opt] table action an `autopilot.bulk.actions` entry (unassign by default): names the call in
--   messages and leaves out what that action does not take
-- @treturn table a new table with every option set: `concurrency`, `limit` (table or false), `batch`,
--   `journal` (string or nil), `dry_run`, `force`, `verify` (table or false), `on_progress` (function or nil),
--   `progress` (the raw value), `via_profile`, `stop` (function or nil)
function M.check(opts, action)
  local kind = action and action.kind or "unassign"
  fname = action and action.fname or "unassign_users"
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then fail("options must be a table, got " .. type(opts)) end
  local refused = NOT_FOR[kind] or {}
  for k in pairs(opts) do
    if not KNOWN[k] or refused[k] then fail("unknown option '" .. tostring(k) .. "'") end
  end
  local o = {}

  o.concurrency = checks.concurrency(opts.concurrency, fname, 3) or M.DEFAULTS.concurrency
  o.limit = checks.limit(opts.limit, fname, 3)
  if o.limit == nil then o.limit = { writes = M.DEFAULTS.limit.writes, seconds = M.DEFAULTS.limit.seconds } end

  o.batch = check_type(opts, "batch", "boolean") or false
  o.dry_run = check_type(opts, "dry_run", "boolean") or false
  o.force = check_type(opts, "force", "boolean") or false
  o.via_profile = check_type(opts, "via_profile", "boolean") or false
  o.journal = check_type(opts, "journal", "string")
  if o.journal == "" then fail("option 'journal' must be a file path, got an empty string") end
  o.on_progress = check_type(opts, "on_progress", "function")
  o.stop = check_type(opts, "stop", "function")

  local verify = opts.verify
  if verify == nil or verify == false then
    o.verify = false
  elseif verify == true then
    o.verify = { timeout = M.DEFAULTS.verify.timeout, interval = M.DEFAULTS.verify.interval }
  elseif type(verify) == "table" then
    for k in pairs(verify) do
      if k ~= "timeout" and k ~= "interval" then fail("unknown key 'verify." .. tostring(k) .. "'") end
    end
    o.verify = {
      timeout = verify.timeout == nil and M.DEFAULTS.verify.timeout
        or positive_number(verify.timeout, "verify.timeout"),
      interval = verify.interval == nil and M.DEFAULTS.verify.interval
        or positive_number(verify.interval, "verify.interval"),
    }
  else
    fail("option 'verify' must be a boolean or a table { timeout =, interval = }, got " .. type(verify))
  end

  local p = opts.progress
  if p == nil then
    -- a library stays quiet when embedded (a callback is given); otherwise it shows what it does
    p = o.on_progress == nil and "auto" or false
  end
  if not (p == true or p == false or p == "auto" or p == "bar" or p == "lines") then
    fail("option 'progress' must be true, false, \"auto\", \"bar\" or \"lines\", got " .. tostring(p))
  end
  o.progress = p
  return o
end

--- The run's parameters as journal and report metadata (plain values, no functions, no credentials).
-- @tparam table o checked options
-- @treturn table
function M.describe(o)
  return {
    concurrency = o.concurrency, limit = o.limit, batch = o.batch, dry_run = o.dry_run, force = o.force,
    verify = o.verify, via_profile = o.via_profile,
  }
end

return M
