--- The report of a bulk run: counts, one result per device or target, and writers.
--
-- Outcomes of a result:
--
--  * `unassigned`          the write succeeded (HTTP 204)
--  * `failed`              the write failed after the core's retries (`status`, `code`, `message` say why)
--  * `not_attempted`       the run stopped before this device (an authentication or permission failure
--                          that every other write would meet too); counted as failed
--  * `already_unassigned`  the device had no assigned user (sent anyway with `force = true`)
--  * `done_before`         the journal says an earlier run already did it
--  * `duplicate`           the same device appeared earlier in the targets
--  * `unknown`             no such device (id or serial)
--  * `ambiguous`           several devices share the serial number; none was touched (`ids` lists them)
--  * `would_unassign`      dry run: the write that would be sent
--
-- `succeeded` counts `unassigned`, `failed` counts `failed` and `not_attempted`, `skipped` counts the rest.
-- @module autopilot.bulk.report
local json = require "autopilot.json"
local errors = require "autopilot.errors"

local M = {}

local SUCCEEDED = { unassigned = true }
local FAILED = { failed = true, not_attempted = true }

--- The CSV and JSON Lines columns, in order.
M.COLUMNS = { "id", "serial", "outcome", "status", "code", "message", "request_id", "attempts", "verified" }

local Report = {}
Report.__index = Report
Report.__name = "autopilot.bulk.Report"

--- Build a report.
-- @tparam table results array of result tables (see the module description)
-- @tparam[opt] table meta `{ dry_run =, elapsed =, requests =, retries =, throttled =, journal =, error =,
-- paused_seconds =, write_rate =, adapted_rate =, achieved_rate = }` (rates in writes per second)
-- @treturn table the report
function M.new(results, meta)
  meta = meta or {}
  local r = setmetatable({
    results = results, succeeded = 0, failed = 0, skipped = 0, total = #results, counts = {},
    verified = 0, unverified = 0, dry_run = meta.dry_run or false, elapsed = meta.elapsed,
    requests = meta.requests, retries = meta.retries, throttled = meta.throttled, journal = meta.journal,
    error = meta.error, writes = 0, paused_seconds = meta.paused_seconds, write_rate = meta.write_rate,
    adapted_rate = meta.adapted_rate, achieved_rate = meta.achieved_rate,
  }, Report)
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
  if self.dry_run then
    return string.format("autopilot bulk (dry run): %d to unassign, %d skipped, of %d targets",
      self.counts.would_unassign or 0, self.skipped - (self.counts.would_unassign or 0), self.total)
  end
  local s = string.format("autopilot bulk: %d unassigned, %d failed, %d skipped, of %d", self.succeeded, self.failed,
    self.skipped, self.total)
  if self.elapsed then
    local rate = self.achieved_rate or (self.elapsed > 0 and self.writes / self.elapsed or 0) -- the bar's rate
    s = s .. string.format(" in %.1fs (%.1f writes/s)", self.elapsed, rate)
  end
  if self.verified + self.unverified > 0 then
    s = s .. string.format(", %d verified, %d not verified", self.verified, self.unverified)
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
      local what = e.verified == false and e.outcome == "unassigned" and "not verified" or e.outcome
      lines[#lines + 1] = string.format("  %s %s%s: %s", what, e.id or "-",
        e.serial and (" (" .. e.serial .. ")") or "", e.message or e.code or (e.status and ("HTTP " .. e.status)) or "")
    end
  end
  return table.concat(lines, "\n")
end

-- Cells that a spreadsheet would run as a formula get a leading quote (OWASP's CSV injection advice).
local function csv_cell(v)
  if v == nil then return "" end
  local s = tostring(v)
  if s:find("^[=+%-@\t\r]") and type(v) == "string" then s = "'" .. s end
  if s:find('[",\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
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

--- Write the results as CSV (a header row, then one row per result, in `M.COLUMNS` order).
-- @tparam string path
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"ReportUnwritable"`
function Report:write_csv(path)
  return write_file(path, function(f)
    assert(f:write(table.concat(M.COLUMNS, ","), "\r\n"))
    local row = {}
    for _, e in ipairs(self.results) do
      for i, col in ipairs(M.COLUMNS) do row[i] = csv_cell(e[col]) end
      assert(f:write(table.concat(row, ","), "\r\n"))
    end
  end)
end

--- Write the results as JSON Lines (one object per result, the `M.COLUMNS` fields plus `ids` for ambiguous).
-- @tparam string path
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"ReportUnwritable"`
function Report:write_jsonl(path)
  return write_file(path, function(f)
    for _, e in ipairs(self.results) do
      local t = {}
      for _, col in ipairs(M.COLUMNS) do t[col] = e[col] end
      t.ids = e.ids
      assert(f:write(assert(json.encode(t)), "\n"))
    end
  end)
end

return M
