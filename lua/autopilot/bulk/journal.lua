--- The journal of a bulk run: one JSON line per device outcome, so a killed run can resume.
--
-- Format (JSON Lines, appended, never rewritten):
--
--     {"run":{"started":"2026-...Z","concurrency":8,"limit":{"writes":100,"seconds":20},...}}
--     {"id":"...","serial":"...","outcome":"unassigned","status":204,"request_id":"...","attempts":1,"time":"...",
--      "previous_upn":"alice@contoso.com","previous_user_name":"Alice"}
--
-- A header line (`run`, the run's parameters) starts every run that writes, so a resumed run adds its own.
-- Each device line is written, flushed and fsynced (`core.fsync`) before the
-- next one, so a run killed at any moment loses at most the line being written. Reading tolerates such a
-- torn last line. A device whose last line says `unassigned` or `already_unassigned` is done: a later run
-- with the same journal skips it as `done_before` and sends nothing for it (a restore run's journal: `restored`
-- or `already_restored`).
-- `previous_upn` and `previous_user_name` are the user the device had before the write (what
-- `client:restore` puts back); a restore run's lines add `restored_upn` and `restored_user_name`.
-- The journal holds ids, serial numbers, user names, statuses and request ids: never a token, a secret or a
-- header.
-- @module autopilot.bulk.journal
local json = require "autopilot.json"
local errors = require "autopilot.errors"

local M = {}

local fsync = require("autopilot.core").fsync

--- Outcomes that mean "nothing left to do for this device".
M.DONE = { unassigned = true, already_unassigned = true }

--- Read a journal.
-- @tparam string path
-- @tparam[opt] table done_outcomes the outcomes that make a device done (default `M.DONE`)
-- @treturn[1] table `{ done = { [id] = line }, last = { [id] = line }, lines = n, runs = n, torn = n }`
--   (a missing file reads as empty)
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"JournalUnreadable"`
function M.read(path, done_outcomes)
  done_outcomes = done_outcomes or M.DONE
  local state = { done = {}, last = {}, lines = 0, runs = 0, torn = 0 }
  local f, why, errno = io.open(path, "rb")
  if not f then
    if errno == 2 then return state end -- ENOENT: a first run
    return nil, errors.input("JournalUnreadable", "cannot read journal: " .. tostring(why))
  end
  -- f:lines() raises on a read error (a directory given as the journal): turn that into the error value
  local ok, rerr = pcall(function()
    for line in f:lines() do
      if line ~= "" then
        local v = json.decode(line)
        if type(v) ~= "table" then
          state.torn = state.torn + 1 -- a line cut short by a kill; its device is simply not done
        elseif type(v.run) == "table" then
          state.runs = state.runs + 1
        elseif type(v.id) == "string" and type(v.outcome) == "string" then
          state.lines = state.lines + 1
          local id = v.id:lower()
          state.last[id] = v
          if done_outcomes[v.outcome] then state.done[id] = v end
        end
      end
    end
  end)
  f:close()
  if not ok then
    local reason = tostring(rerr):gsub("^[^\n]-:%d+: ", "")
    return nil, errors.input("JournalUnreadable", "cannot read journal: " .. reason)
  end
  return state
end

local Journal = {}
Journal.__index = Journal
Journal.__name = "autopilot.bulk.Journal"

--- Open a journal for appending and write the run's header line.
-- @tparam string path
-- @tparam table params the run's parameters (plain values only; never credentials)
-- @treturn[1] table the journal (`:write(entry)`, `:close()`)
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"JournalUnwritable"`
function M.open(path, params)
  -- a torn last line (no newline at the end) must not swallow the next record
  local needs_newline = false
  local r = io.open(path, "rb")
  if r then
    local size = r:seek("end")
    if size and size > 0 then
      r:seek("set", size - 1)
      needs_newline = r:read(1) ~= "\n"
    end
    r:close()
  end
  local f, why = io.open(path, "ab")
  if not f then return nil, errors.input("JournalUnwritable", "cannot open journal: " .. tostring(why)) end
  local j = setmetatable({ file = f, path = path, lines = 0 }, Journal)
  if needs_newline then f:write("\n") end
  local ok, err = j:_line({ run = params })
  if not ok then
    f:close()
    return nil, err
  end
  return j
end

function Journal:_line(t)
  local text = json.encode(t)
  local f = self.file
  local ok, why = f:write(text, "\n")
  if ok then ok, why = f:flush() end
  if ok then ok, why = fsync(f) end
  if not ok then return nil, errors.input("JournalUnwritable", "cannot write journal: " .. tostring(why)) end
  return true
end

--- Append one device outcome, durably (write, flush, fsync).
-- @tparam table e `{ id =, serial =, outcome =, status =, code =, request_id =, attempts =, previous_upn =,
--   previous_user_name =, restored_upn =, restored_user_name = }`
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"JournalUnwritable"`
function Journal:write(e)
  self.lines = self.lines + 1
  return self:_line({
    id = e.id, serial = e.serial, outcome = e.outcome, status = e.status, code = e.code,
    request_id = e.request_id, attempts = e.attempts, time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    previous_upn = e.previous_upn, previous_user_name = e.previous_user_name,
    restored_upn = e.restored_upn, restored_user_name = e.restored_user_name,
  })
end

--- Close the journal (idempotent).
function Journal:close()
  if self.file then
    self.file:close()
    self.file = nil
  end
end

function Journal:__tostring()
  return string.format("autopilot.bulk.Journal(%s, %d lines%s)", self.path, self.lines,
    self.file and "" or ", closed")
end

Journal.__close = Journal.close
Journal.__gc = Journal.close

return M
