--- Bulk unassign: take the assigned user off many Autopilot devices at the service's limit.
--
--     local report = assert(client:unassign_users({ group_tag = "Kiosk" },
--       { concurrency = 8, journal = "run.jsonl", verify = true }))
--     print(report:summary())
--     report:write_csv("report.csv")
--
-- A run goes in four steps:
--
-- 1. **Plan** (`autopilot.bulk.plan`): targets are resolved to devices; duplicates, unknown ids or serials,
--    ambiguous serials, devices with no assigned user (unless `force`) and devices the journal shows as done
--    are skipped, each with its reason. `dry_run = true` stops here and sends no write.
-- 2. **Write** (`autopilot.bulk.runner`): one `unassignUserFromDevice` per device (or `$batch` requests of
--    20 with `batch = true`), at most `concurrency` outstanding, under the client-side budget `limit`
--    (Intune allows one app 100 writes per 20 s in a tenant), with the C core's retries and shared pause.
-- 3. **Journal** (`autopilot.bulk.journal`): each outcome is appended and flushed before the next, so a
--    killed run, started again with the same call, sends nothing for the devices already done.
-- 4. **Verify** (`autopilot.bulk.verify`): with `verify`, each unassigned device is read back until its user
--    is gone or a deadline passes (the service is eventually consistent).
--
-- The session's concurrency and budget are set for the run and put back afterwards.
-- @module autopilot.bulk
local options = require "autopilot.bulk.options"
local targets_mod = require "autopilot.bulk.targets"
local plan_mod = require "autopilot.bulk.plan"
local journal_mod = require "autopilot.bulk.journal"
local progress = require "autopilot.bulk.progress"
local report_mod = require "autopilot.bulk.report"
local runner = require "autopilot.bulk.runner"
local clock = require "autopilot.bulk.clock"
local actions = require "autopilot.bulk.actions"

local M = {}

local function stats_of(s)
  local st = s:stats()
  return { requests = st.requests or 0, retries = st.retries or 0, throttled = st.throttled or 0,
           paused = st.paused_seconds or 0, adapted_rate = st.adapted_rate, write_rate = st.write_rate }
end

local function finish_report(entries, meta, action)
  local results = {}
  for i, e in ipairs(entries) do
    results[i] = {
      id = e.id, serial = e.serial, outcome = e.outcome, status = e.status, code = e.code, message = e.message,
      request_id = e.request_id, attempts = e.attempts or 0, verified = e.verified, ids = e.ids, line = e.line,
      previous_upn = e.previous_upn, previous_user_name = e.previous_user_name,
      restored_upn = e.restored_upn, restored_user_name = e.restored_user_name,
    }
  end
  meta.action = action.kind
  return report_mod.new(results, meta)
end

local function execute(client, action, norm, o, t0)
  local s = client._session
  local before = stats_of(s)
  local done = {}
  if o.journal then
    local st, jerr = journal_mod.read(o.journal, action.done)
    if not st then return nil, jerr end
    done = st.done
  end

  local entries, perr = plan_mod.build(client, norm, o, done, action)
  if not entries then return nil, perr end

  local todo, skipped = {}, 0
  for _, e in ipairs(entries) do
    if e.outcome == nil then
      todo[#todo + 1] = e
    else
      skipped = skipped + 1
    end
  end

  if o.dry_run then
    for _, e in ipairs(todo) do
      e.outcome, e.message = action.dry_outcome, action.dry_message
    end
    local after = stats_of(s)
    return finish_report(entries, { dry_run = true, elapsed = clock.now() - t0,
      requests = after.requests - before.requests, retries = after.retries - before.retries,
      throttled = after.throttled - before.throttled, journal = o.journal }, action)
  end

  local state = { done = skipped, succeeded = 0, failed = 0, skipped = skipped, in_flight = 0, throttled = 0,
                  verifying = 0 }
  for _, e in ipairs(entries) do
    if e.outcome == "failed" then -- a lookup that failed: no write, but not a skip either
      state.failed, state.skipped = state.failed + 1, state.skipped - 1
    end
  end
  local tracker = progress.new { total = #entries, on_progress = o.on_progress, mode = progress.mode(o.progress),
                                 now = clock.now, stats = function() return s:stats() end, verb = action.outcome }

  local journal
  if o.journal and #todo > 0 then
    local params = options.describe(o)
    params.started = clock.iso()
    params.targets = #entries
    params.writes = #todo
    params.source = norm.source
    params.fsync = true
    params.action = action.kind
    local jerr
    journal, jerr = journal_mod.open(o.journal, params)
    if not journal then return nil, jerr end
  end

  local run
  local ok, rerr = pcall(function()
    run = runner.execute { client = client, opts = o, todo = todo, state = state, journal = journal,
                           tracker = tracker, clock = clock, action = action }
  end)
  if journal then journal:close() end
  if not ok then error(rerr, 0) end
  if run.closed then return nil, run.closed end -- the journal keeps what was done, for a resume
  state.write_seconds = run.write_seconds or 0 -- the final rate is the report's achieved_rate
  tracker:finish(state)

  local after = stats_of(s)
  local write_seconds = run.write_seconds or 0
  return finish_report(entries, {
    elapsed = clock.now() - t0, requests = after.requests - before.requests,
    retries = after.retries - before.retries, throttled = after.throttled - before.throttled,
    paused_seconds = after.paused - before.paused, journal = o.journal, error = run.error,
    interrupted = run.interrupted,
    -- pacing: the ceiling the run was given, where adaptation left it, and what the service let through
    write_rate = after.write_rate, adapted_rate = after.adapted_rate,
    achieved_rate = write_seconds > 0 and state.succeeded / write_seconds or nil,
  }, action)
end

--- Run an action over normalised targets with checked options: the session's pacing is set for the run and
-- put back afterwards, even when the run raises (used by `run` and `autopilot.bulk.restore`).
-- @tparam autopilot.Client client
-- @tparam table action an `autopilot.bulk.actions` entry
-- @tparam table norm from `autopilot.bulk.targets.normalize` (restore items carry `restore = { upn =, name = }`)
-- @tparam table o from `autopilot.bulk.options.check`
-- @treturn[1] table the report
-- @return[2] nil
-- @treturn[2] autopilot.Error the plan could not be made; nothing was written
function M.execute(client, action, norm, o)
  local t0 = clock.now()
  local s = client._session
  local saved = client._pacing
  -- writes are paced by the session, $batch items one by one as single writes; verify reads get slots of
  -- their own
  local extra = runner.read_slots(o)
  s:configure { concurrency = o.concurrency + extra, limit = o.limit }
  local ok, report, err = pcall(execute, client, action, norm, o, t0)
  if client._session then -- an async client may have been closed under the run
    s:configure { concurrency = saved.concurrency, limit = saved.limit }
  end
  if not ok then error(report, 0) end
  return report, err
end

--- Unassign the users of many devices (this is `client:unassign_users`).
-- @tparam autopilot.Client client
-- @param targets device ids and device tables (an array), a query table as for `client:list_devices`, a CSV
--   file path (serial numbers or ids; Intune's `Device Serial Number` files included), `{ csv = path }` or
--   `{ serials = {...} }`; see `autopilot.bulk.targets`
-- @tparam[opt] table opts
--   `concurrency` (8: writes outstanding at once),
--   `limit` (`{ writes = 100, seconds = 20 }`, Intune's per-app limit, or false),
--   `batch` (false: `$batch` requests of 20),
--   `journal` (path of the JSON Lines journal that makes the run resumable),
--   `dry_run` (false: plan only, no write),
--   `force` (false: also unassign devices that show no assigned user),
--   `verify` (false, true or `{ timeout = 60, interval = 2 }`: read each device back),
--   `on_progress` (function(p) called with `{ total, done, succeeded, failed, skipped, in_flight, rate, eta,
--   throttled, verifying, verified, phase, wait, waiting_for }`: `rate` is successful writes per second of
--   writing (the summary's rate), `phase` is "write", "waiting" (for the budget or a retry: `wait` seconds,
--   `waiting_for` "budget" or the retry's reason), "verify" (writes done, `verified` checks ended) or "done";
--   see `autopilot.bulk.progress`),
--   `progress` ("auto" unless `on_progress` is given: a bar on a terminal, plain lines otherwise; true, false,
--   "bar", "lines"),
--   `via_profile` (false: beta's path through deploymentProfile/assignedDevices; needs api_version "beta"),
--   `stop` (a function polled between steps, at least every quarter second: once it returns a true value no
--   new write starts, the writes in flight finish (each bounded by the request timeout) and are journaled,
--   verify reads not yet sent are dropped, and every device left is `not_attempted`; a string it returns,
--   e.g. "SIGINT", names the cause in the messages. Nothing here touches signals: see `core.catch_signals`)
-- @treturn[1] table the report (`autopilot.bulk.report`): `succeeded`, `failed`, `skipped`, `results` (each
--   with `previous_upn` and `previous_user_name`: the user removed), `write_csv`, `write_jsonl`, `summary`,
--   `lines` (one per device, e.g. a dry run's listing); `report.error` is set when the run stopped early on a
--   failure, `report.interrupted` (true) and `report.interrupted_by` (what `stop` returned, when a string)
--   when `stop` stopped it
-- @return[2] nil
-- @treturn[2] autopilot.Error the plan could not be made (a listing failed, an unreadable CSV or journal);
--   nothing was written
function M.run(client, targets, opts)
  if type(client) ~= "table" or type(client._session) ~= "userdata" and type(client._session) ~= "table" then
    error("unassign_users: client must be an open autopilot.Client", 2)
  end
  local o = options.check(opts)
  if o.via_profile and client.api_version ~= "beta" then
    error("unassign_users: option 'via_profile' needs a client with api_version = \"beta\"", 2)
  end
  local norm, terr = targets_mod.normalize(targets)
  if not norm then return nil, terr end
  return M.execute(client, actions.unassign, norm, o)
end

return M
