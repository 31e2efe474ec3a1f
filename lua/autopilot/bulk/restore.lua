--- Undo of an unassign run: assign the removed users back (this is `client:restore`).
--
--     local report = assert(client:restore("run.jsonl", { journal = "restore.jsonl", verify = true }))
--     print(report:summary())
--
-- The source says which devices lost which user: a run's journal, its report (CSV or JSON Lines, as
-- `report:write_csv` / `write_jsonl` wrote it), a report table itself, or an array of records
-- `{ id =, previous_upn =, previous_user_name = }`. Only devices the run actually unassigned count (a record's
-- `outcome`, when it has one, is `unassigned`); in a journal, a device's last line decides. The kind of a
-- file is read from its content, not its name: JSON lines with a `run` header are a journal, other JSON lines
-- a JSONL report, a CSV whose header names `id` and `outcome` a CSV report.
--
-- The devices then go through the same plan, pacing, journal, verify and report as `unassign_users`, with
-- the restore decisions of `autopilot.bulk.actions`: a device that has another user by now is
-- `skipped_changed` and never overwritten.
-- @module autopilot.bulk.restore
local errors = require "autopilot.errors"
local ids = require "autopilot.ids"
local json = require "autopilot.json"
local actions = require "autopilot.bulk.actions"
local options = require "autopilot.bulk.options"
local targets = require "autopilot.bulk.targets"
local bulk = require "autopilot.bulk"

local M = {}

local function bad(message)
  return nil, errors.input("InvalidRestoreSource", message)
end

local function text_or_nil(v)
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

-- A record the run changed becomes a plan item; others (failed, skipped, a dry run's) are not part of it.
local function item_of(rec, where)
  if rec.outcome ~= nil and rec.outcome ~= "unassigned" then return nil end
  if not ids.is_guid(rec.id) then return false, where .. ": id is " .. ids.describe(rec.id) .. ", not a device id" end
  return { kind = "id", id = rec.id, serial = text_or_nil(rec.serial),
           restore = { upn = text_or_nil(rec.previous_upn), name = text_or_nil(rec.previous_user_name) } }
end

local function collect(records, describe)
  local items = {}
  for i, rec in ipairs(records) do
    local it, why = item_of(rec, describe(i, rec))
    if it == false then return bad(why) end
    if it then
      it.index, it.line = #items + 1, rec.line
      items[#items + 1] = it
    end
  end
  return items
end

-- JSON lines: a journal (a `run` header; a device's last line counts; lines torn by a kill are tolerated) or a
-- JSONL report (every line a result).
local function from_json_lines(text, path)
  local order, last, journal, results, torn, n = {}, {}, false, false, 0, 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    line = line:gsub("\r$", "")
    if line:find("%S") then
      local v = json.decode(line)
      if type(v) ~= "table" then
        torn = torn + 1
      elseif type(v.run) == "table" then
        journal = true
      elseif type(v.outcome) == "string" then
        -- a result without an id (an unknown serial) was never written: not part of the undo
        if type(v.id) == "string" then
          local key = v.id:lower()
          if not last[key] then order[#order + 1] = key end
          v.line = n
          last[key] = v
        end
        results = true
      elseif not results and not journal then
        return bad(path .. " is neither a journal nor a report: line " .. n .. " is no device result")
      end
    end
  end
  if torn > 0 and not journal then return bad(path .. ": " .. torn .. " lines are not JSON") end
  local records = {}
  for i, key in ipairs(order) do records[i] = last[key] end
  local items, err = collect(records, function(_, rec) return string.format("%s line %d", path, rec.line) end)
  if not items then return nil, err end
  return items, journal and "journal" or "jsonl"
end

-- A report cell that `write_csv` guarded against spreadsheet formulas: the guard quote comes off.
local function unguard(cell)
  if cell:find("^'[=+%-@\t\r]") then return cell:sub(2) end
  return cell
end

local function from_csv(text, path)
  local rows = targets.parse_csv(text)
  local header = rows[1] and rows[1].cells or {}
  local col = {}
  for i, name in ipairs(header) do col[name:match("^%s*(.-)%s*$")] = i end
  if not col.id or not col.outcome then
    return bad(path .. " is neither a journal nor a report (a report's CSV header names id and outcome)")
  end
  local records = {}
  for r = 2, #rows do
    local cells, rec = rows[r].cells, { line = rows[r].line }
    for name, i in pairs(col) do rec[name] = unguard(cells[i] or "") end
    records[#records + 1] = rec
  end
  local items, err = collect(records, function(_, rec) return string.format("%s line %d", path, rec.line) end)
  if not items then return nil, err end
  return items, "csv"
end

local function from_file(path)
  local f, why = io.open(path, "rb")
  if not f then return bad("cannot read " .. tostring(why)) end
  local ok, text = pcall(f.read, f, "a")
  f:close()
  if not ok or not text then return bad("cannot read " .. path .. (ok and "" or ": " .. tostring(text))) end
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end
  local first = text:match("^%s*(.)")
  if not first then return bad(path .. " is empty: neither a journal nor a report") end
  if first == "{" then return from_json_lines(text, path) end
  return from_csv(text, path)
end

local function from_array(list)
  for i, rec in ipairs(list) do
    if type(rec) ~= "table" then
      error(string.format("restore: source[%d] must be a record { id =, previous_upn = }, got %s", i, type(rec)), 4)
    end
    local ok, why = ids.check(rec.id)
    if not ok then error(string.format("restore: source[%d]: %s", i, why), 4) end
    for _, k in ipairs { "previous_upn", "previous_user_name" } do
      if rec[k] ~= nil and type(rec[k]) ~= "string" then
        error(string.format("restore: source[%d].%s must be a string, got %s", i, k, type(rec[k])), 4)
      end
    end
  end
  return (collect(list, function(i) return "source[" .. i .. "]" end)), "list"
end

--- The plan items of a restore source (see the module description). Programmer errors (a record that is not
-- a table, a malformed id or user in an array) raise.
-- @param source a journal or report path, a report, or an array of records
-- @treturn[1] table array of items `{ kind = "id", id =, serial =, restore = { upn =, name = } }`
-- @treturn[1] string what the source was: "journal", "jsonl", "csv", "list"
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"InvalidRestoreSource"`: an unreadable file, one that is neither a journal
--   nor a report, a malformed id in a file
function M.items(source)
  if type(source) == "string" then return from_file(source) end
  if type(source) ~= "table" then
    error("restore: source must be a journal or report path, a report or an array of records, got " .. type(source), 3)
  end
  if type(source.results) == "table" then source = source.results end
  return from_array(source)
end

--- Assign back the users an unassign run removed (this is `client:restore`).
-- @tparam autopilot.Client client
-- @param source a journal path, a report path (CSV or JSONL), a report, or an array of records
--   `{ id =, previous_upn =, previous_user_name = }`
-- @tparam[opt] table opts as for `unassign_users` except `force`: `concurrency`, `limit`, `batch`, `journal`
--   (this run's own journal; a device it shows as `restored` is `done_before`), `dry_run`, `verify` (read back
--   until the device shows the restored user), `on_progress`, `progress`, `via_profile`, `stop` (polled
--   between steps; see `unassign_users`: the report then has `interrupted`)
-- @treturn[1] table the report (`autopilot.bulk.report`, `action = "restore"`): outcomes `restored`,
--   `already_restored`, `skipped_changed`, `no_previous_user`, `would_restore` (dry run) and those of any run
--   (`failed`, `unknown`, `duplicate`, ...); each result has `restored_upn`/`restored_user_name` (the user put
--   back) and `previous_upn`/`previous_user_name` (the user the device had before this write)
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"InvalidRestoreSource"` (see `items`), or the plan's error (a lookup
--   failed); nothing was sent
function M.run(client, source, opts)
  if type(client) ~= "table" or type(client._session) ~= "userdata" and type(client._session) ~= "table" then
    error("restore: client must be an open autopilot.Client", 2)
  end
  local o = options.check(opts, actions.restore)
  if o.via_profile and client.api_version ~= "beta" then
    error("restore: option 'via_profile' needs a client with api_version = \"beta\"", 2)
  end
  local items, kind = M.items(source)
  if not items then return nil, kind end
  return bulk.execute(client, actions.restore, { items = items, source = kind }, o)
end

return M
