--- The report of a bulk run: counts, one result per device or target, and writers.
--
-- Outcomes of a result:
--
--  * `unassigned`          the write succeeded (HTTP 204)
--  * `failed`              the write failed after the core's retries (`status`, `code`, `message` say why)
--  * `not_attempted`       the run stopped before this device (an authentication or permission failure
--                          that every other write would meet too, or the caller's `stop`, e.g. a SIGINT
--                          in the CLI: `report.interrupted`); counted as failed
--  * `already_unassigned`  the device had no assigned user (sent anyway with `force = true`)
--  * `done_before`         the journal says an earlier run already did it
--  * `duplicate`           the same device appeared earlier in the targets
--  * `unknown`             no such device (id or serial)
--  * `ambiguous`           several devices share the serial number; none was touched (`ids` lists them)
--  * `would_unassign`      dry run: the write that would be sent
--
-- A restore run (`client:restore`) has these instead of `unassigned`, `already_unassigned`, `would_unassign`:
--
--  * `restored`            the previous user was assigned back (HTTP 204)
--  * `already_restored`    the device has that user again; nothing sent
--  * `skipped_changed`     the device has another user now (assigned since the run); left alone
--  * `no_previous_user`    the run recorded no user on this device
--  * `would_restore`       dry run: the write that would be sent
--
-- Every result with a device carries `previous_upn` and `previous_user_name`: the user the device had when
-- the run read it, before its write (whose assignment an unassign run removed). Restore results add
-- `restored_upn` and `restored_user_name`, the user put back.
--
-- `succeeded` counts `unassigned` and `restored`, `failed` counts `failed` and `not_attempted`, `skipped`
-- counts the rest.
-- @module autopilot.bulk.report
local csv = require "autopilot.csv"
local json = require "autopilot.json"
local errors = require "autopilot.errors"

local M = {}

local SUCCEEDED = { unassigned = true, restored = true }
local FAILED = { failed = true, not_attempted = true }

--- The CSV and JSON Lines columns of an unassign run, in order.
M.COLUMNS = { "id", "serial", "outcome", "status", "code", "message", "request_id", "attempts", "verified",
  "previous_upn", "previous_user_name" }

--- The columns of a restore run: those of `M.COLUMNS`, then the user put back.
M.RESTORE_COLUMNS = { table.unpack(M.COLUMNS) }
M.RESTORE_COLUMNS[#M.RESTORE_COLUMNS + 1] = "restored_upn"
M.RESTORE_COLUMNS[#M.RESTORE_COLUMNS + 1] = "restored_user_name"

local Report = {}
Report.__index = Report
Report.__name = "autopilot.bulk.Report"

--- Build a report.
-- @tparam table results array of result tables (see the module description)
-- @tparam[opt] table meta `{ dry_run =, elapsed =, requests =, retries =, throttled =, journal =, error =,
-- paused_seconds =, write_rate =, adapted_rate =, achieved_rate =, action = "unassign"|"restore",
-- interrupted = true|string }` (rates in writes per second; `interrupted` a string names the cause)
-- @treturn table the report (`action` says which kind of run it was; `interrupted` is true when the caller's
--   `stop` ended the run, false otherwise, and `interrupted_by` the cause it named, e.g. "SIGINT", or nil)
function M.new(results, meta)
  meta = meta or {}
  local r = setmetatable({
    results = results, succeeded = 0, failed = 0, skipped = 0, total = #results, counts = {},
    verified = 0, unverified = 0, dry_run = meta.dry_run or false, elapsed = meta.elapsed,
    requests = meta.requests, retries = meta.retries, throttled = meta.throttled, journal = meta.journal,
    error = meta.error, writes = 0, paused_seconds = meta.paused_seconds, write_rate = meta.write_rate,
    adapted_rate = meta.adapted_rate, achieved_rate = meta.achieved_rate, action = meta.action or "unassign",
    interrupted = meta.interrupted and true or false,
    interrupted_by = type(meta.interrupted) == "string" and meta.interrupted or nil,
  }, Report)
  r.columns = r.action == "restore" and M.RESTORE_COLUMNS or M.COLUMNS
  for _, e in ipairs(results) do
    local o = e.outcome
    r.counts[o] = (r.counts[o] or 0) + 1
    if SUCCEEDED[o] then
      r.succeeded = r.succeeded + 1
    elseif FAILED[o] then
      r.failed = r.failed + 1
    else
      r.skipped = r.skipped + 1
    end
    if e.attempts and e.attempts > 0 then r.writes = r.writes + 1 end
    if e.verified == true then r.verified = r.verified + 1 end
    if e.verified == false then r.unverified = r.unverified + 1 end
  end
  return r
end

local function fmt_count_list(counts)
  local keys = {}
  for k in pairs(counts) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return a < b
  end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%s %d", k, counts[k]) end
  return table.concat(parts, ", ")
end

--- One summary line.
function Report:__tostring()
  local restore = self.action == "restore"
  if self.dry_run then
    local would = self.counts[restore and "would_restore" or "would_unassign"] or 0
    return string.format("autopilot %s (dry run): %d to %s, %d skipped, of %d targets", restore and "restore" or "bulk",
      would, restore and "restore" or "unassign", self.skipped - would, self.total)
  end
  local s = string.format("autopilot %s: %d %s, %d failed, %d skipped, of %d", restore and "restore" or "bulk",
    self.succeeded, restore and "restored" or "unassigned", self.failed, self.skipped, self.total)
  if self.elapsed then
    local rate = self.achieved_rate or (self.elapsed > 0 and self.writes / self.elapsed or 0) -- the bar's rate
    s = s .. string.format(" in %.1fs (%.1f writes/s)", self.elapsed, rate)
  end
  if self.verified + self.unverified > 0 then
    s = s .. string.format(", %d verified, %d not verified", self.verified, self.unverified)
  end
  if self.interrupted then
    s = s .. "; interrupted" .. (self.interrupted_by and (" (" .. self.interrupted_by .. ")") or "")
  end
  if self.error then s = s .. "; stopped: " .. tostring(self.error) end
  return s
end

--- A few lines for humans: the counts by outcome, the traffic, and the first failures.
-- @tparam[opt=10] integer max_failures how many failed devices to list
-- @treturn string
function Report:summary(max_failures)
  max_failures = max_failures or 10
  local lines = { tostring(self) }
  lines[#lines + 1] = "  outcomes: " .. (next(self.counts) and fmt_count_list(self.counts) or "none")
  if self.requests then
    lines[#lines + 1] = string.format("  requests: %d sent, %d retried, %d throttled (429)", self.requests,
      self.retries or 0, self.throttled or 0)
  end
  if self.write_rate then
    lines[#lines + 1] = string.format("  pacing: %.2f writes/s achieved, limit %.2f/s, adapted to %.2f/s, "
      .. "paused %.1f s", self.achieved_rate or 0, self.write_rate, self.adapted_rate or self.write_rate,
      self.paused_seconds or 0)
  end
  if self.journal then lines[#lines + 1] = "  journal: " .. self.journal end
  local shown = 0
  for _, e in ipairs(self.results) do
    if FAILED[e.outcome] or e.outcome == "unknown" or e.outcome == "ambiguous" or e.verified == false then
      if shown == max_failures then
        lines[#lines + 1] = "  ... (see the CSV or JSONL report for the rest)"
        break
      end
      shown = shown + 1
      local what = e.verified == false and SUCCEEDED[e.outcome] and "not verified" or e.outcome
      lines[#lines + 1] = string.format("  %s %s%s: %s", what, e.id or "-",
        e.serial and (" (" .. e.serial .. ")") or "", e.message or e.code or (e.status and ("HTTP " .. e.status)) or "")
    end
  end
  return table.concat(lines, "\n")
end

local function user_text(upn, name)
  if not upn then return "no user" end
  if name and name ~= upn then return upn .. " (" .. name .. ")" end
  return upn
end

--- One line for a result, for a dry run's per-device listing (`-WhatIf`) or a log:
-- `would_unassign <id> (<serial>) user alice@contoso.com (Alice)`; a restore names the user it puts back
-- (`would_restore <id> (<serial>) user alice@contoso.com`); a skip adds its reason after a colon.
-- @tparam table e a result from `results`
-- @treturn string
function M.result_line(e)
  local head = string.format("%s %s%s", tostring(e.outcome), e.id or "-", e.serial and (" (" .. e.serial .. ")") or "")
  local user
  if e.restored_upn then
    user = "user " .. user_text(e.restored_upn, e.restored_user_name)
    if e.previous_upn then user = user .. ", now " .. user_text(e.previous_upn, e.previous_user_name) end
  elseif e.previous_upn or e.id and (e.outcome == "would_unassign" or SUCCEEDED[e.outcome]) then
    user = "user " .. user_text(e.previous_upn, e.previous_user_name)
  end
  local line = user and (head .. " " .. user) or head
  local why = e.message or e.code or (e.status and e.status >= 300 and ("HTTP " .. e.status)) or nil
  if why and not (e.outcome == "would_unassign" or e.outcome == "would_restore" or SUCCEEDED[e.outcome]) then
    line = line .. ": " .. why
  end
  return line
end

--- One line per result (see `result_line`), in target order.
-- @treturn table array of strings
function Report:lines()
  local out = {}
  for i, e in ipairs(self.results) do out[i] = M.result_line(e) end
  return out
end

local function write_file(path, fill)
  if type(path) ~= "string" then error("path must be a string, got " .. type(path), 3) end
  local f, why = io.open(path, "wb")
  if not f then return nil, errors.input("ReportUnwritable", "cannot write report: " .. tostring(why)) end
  local ok, werr = pcall(fill, f)
  local closed, cerr = f:close()
  if not ok or not closed then
    return nil, errors.input("ReportUnwritable", "cannot write report: " .. tostring(ok and cerr or werr))
  end
  return true
end

--- Write the results as CSV (a header row, then one row per result, in `M.COLUMNS` order; a restore report
-- in `M.RESTORE_COLUMNS` order).
-- @tparam string path
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"ReportUnwritable"`
function Report:write_csv(path)
  return write_file(path, function(f)
    assert(f:write(table.concat(self.columns, ","), "\r\n"))
    local row = {}
    for _, e in ipairs(self.results) do
      for i, col in ipairs(self.columns) do row[i] = csv.field(e[col]) end
      assert(f:write(table.concat(row, ","), "\r\n"))
    end
  end)
end

--- Write the results as JSON Lines (one object per result, the report's columns plus `ids` for ambiguous).
-- @tparam string path
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"ReportUnwritable"`
function Report:write_jsonl(path)
  return write_file(path, function(f)
    for _, e in ipairs(self.results) do
      local t = {}
      for _, col in ipairs(self.columns) do t[col] = e[col] end
      t.ids = e.ids
      assert(f:write(assert(json.encode(t)), "\n"))
    end
  end)
end

return M
