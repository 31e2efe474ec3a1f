--- What a bulk run works on: every accepted form of targets, turned into one list of items.
--
-- Accepted forms (for `client:unassign_users(targets, opts)`):
--
--  * an array mixing device ids (GUID strings) and device tables (as returned by `client:device` or
--    `client:list_devices`; a table needs at least a GUID `id`);
--  * a query table as for `client:list_devices`, e.g. `{ group_tag = "Kiosk" }`;
--  * a string: one device id, or else the path of a CSV file;
--  * `{ csv = "path" }` (a CSV file, whatever its name) or `{ serials = { "SN1", ... } }`.
--
-- CSV files: a header row naming a serial column (`Device Serial Number` as in Intune's Autopilot import and
-- export files, `Serial number`, `serialNumber`, `serial`) or an id column (`id`, `ZTDID`, `Autopilot device
-- ID`) selects that column; without a recognised header every row's first cell is read, a GUID as a device
-- id and anything else as a serial number. The separator is read from the header line: a comma, a semicolon
-- (Excel's CSV in locales with a decimal comma) or a tab, whichever occurs most outside quotes (a comma when
-- none does). A UTF-8 byte order mark, CRLF line ends, quoted cells (RFC 4180) and blank lines are accepted;
-- cells are trimmed of surrounding white space only, by `autopilot.serial.trim` as every serial lookup is
-- (real serial numbers can hold inner spaces).
--
-- An empty array is an empty run (never "every device"). Programmer errors (a wrong type, a string in an
-- array that is not a GUID, a device table without a GUID id) raise before anything is sent; a CSV file
-- that cannot be read or holds no targets is returned as an error value.
-- @module autopilot.bulk.targets
local errors = require "autopilot.errors"
local ids = require "autopilot.ids"
local serial_mod = require "autopilot.serial"

local M = {}

local trim = serial_mod.trim

--- The separators a CSV file may use, in the order that wins a tie.
M.SEPARATORS = { ",", ";", "\t" }

--- The separator of CSV text, read from its first line outside quoted cells (see the module description).
-- @tparam string text the file's contents
-- @treturn string `","`, `";"` or `"\t"`
function M.detect_separator(text)
  local counts, quoted = { [","] = 0, [";"] = 0, ["\t"] = 0 }, false
  for i = 1, #text do
    local c = text:sub(i, i)
    if c == '"' then
      quoted = not quoted
    elseif not quoted then
      if c == "\n" or c == "\r" then
        if i > 1 and text:sub(1, i - 1):find("%S") then break end
      elseif counts[c] then
        counts[c] = counts[c] + 1
      end
    end
  end
  local best = ","
  for _, sep in ipairs(M.SEPARATORS) do
    if counts[sep] > counts[best] then best = sep end
  end
  return best
end

--- Split CSV text into records of cells (RFC 4180: quoted cells may hold separators, quotes and line breaks).
-- @tparam string text the file's contents
-- @tparam[opt] string sep the separator; by default the one `detect_separator` reads from the header line
-- @treturn table array of `{ line = n, cells = { ... } }` (line numbers start at 1; blank lines are left out)
-- @treturn string the separator used
function M.parse_csv(text, sep)
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end
  sep = sep or M.detect_separator(text)
  local cell_end = "[" .. sep .. "\r\n]"
  local plain_end = "[" .. sep .. "\r\n\"]"
  local records, cells, cell = {}, {}, {}
  local line, record_line = 1, 1
  local i, n = 1, #text
  local function end_cell()
    cells[#cells + 1] = table.concat(cell)
    cell = {}
  end
  local function end_record()
    end_cell()
    local blank = #cells == 1 and trim(cells[1]) == ""
    if not blank then records[#records + 1] = { line = record_line, cells = cells } end
    cells = {}
  end
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' and trim(table.concat(cell)) == "" then
      -- a quoted cell: runs to the closing quote; "" inside is one quote
      cell = {}
      i = i + 1
      while i <= n do
        local j = text:find('"', i, true)
        if not j then
          cell[#cell + 1] = text:sub(i)
          i = n + 1
          break
        end
        local chunk = text:sub(i, j - 1)
        for _ in chunk:gmatch("\n") do line = line + 1 end
        cell[#cell + 1] = chunk
        if text:sub(j + 1, j + 1) == '"' then
          cell[#cell + 1] = '"'
          i = j + 2
        else
          i = j + 1
          break
        end
      end
      -- anything between the closing quote and the separator is kept, as spreadsheets do
      local k = text:find(cell_end, i) or n + 1
      cell[#cell + 1] = text:sub(i, k - 1)
      i = k
    elseif c == sep then
      end_cell()
      i = i + 1
    elseif c == "\r" or c == "\n" then
      end_record()
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      i = i + 1
      line = line + 1
      record_line = line
    else
      local k = text:find(plain_end, i) or n + 1
      if k == i then k = i + 1 end -- a quote inside an unquoted cell is kept as is
      cell[#cell + 1] = text:sub(i, k - 1)
      i = k
    end
  end
  if #cell > 0 or #cells > 0 then end_record() end
  return records, sep
end

-- header cell, lower-cased with spaces, underscores and hyphens removed -> column kind
local HEADERS = {
  deviceserialnumber = "serial", serialnumber = "serial", serial = "serial", serialno = "serial",
  id = "id", ztdid = "id", autopilotdeviceid = "id", autopilotid = "id", windowsautopilotdeviceidentityid = "id",
}

local function header_kind(cell)
  return HEADERS[trim(cell):lower():gsub("[%s_%-]", "")]
end

--- Targets from CSV text.
-- @tparam string text the file's contents
-- @tparam[opt] string name the file name, for messages
-- @treturn[1] table array of items `{ kind = "id"|"serial", id =, serial =, line = n }`
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"InvalidTargets"`: no targets in the file
function M.from_csv_text(text, name)
  name = name or "CSV"
  local records = M.parse_csv(text)
  local items = {}
  if #records == 0 then return nil, errors.input("InvalidTargets", name .. ": no rows") end
  local id_col, serial_col
  for col, cell in ipairs(records[1].cells) do
    local kind = header_kind(cell)
    if kind == "id" and not id_col then id_col = col end
    if kind == "serial" and not serial_col then serial_col = col end
  end
  local first = 1
  if id_col or serial_col then first = 2 end
  for r = first, #records do
    local rec = records[r]
    local item
    if id_col or serial_col then
      local id = id_col and trim(rec.cells[id_col] or "") or ""
      local serial = serial_col and trim(rec.cells[serial_col] or "") or ""
      if id ~= "" then
        if not ids.is_guid(id) then
          return nil, errors.input("InvalidTargets", string.format("%s line %d: id column holds %s, not a device id",
            name, rec.line, ids.describe(id)))
        end
        item = { kind = "id", id = id, serial = serial ~= "" and serial or nil, line = rec.line }
      elseif serial ~= "" then
        item = { kind = "serial", serial = serial, line = rec.line }
      end
    else
      local v = trim(rec.cells[1] or "")
      if ids.is_guid(v) then
        item = { kind = "id", id = v, line = rec.line }
      elseif v ~= "" then
        item = { kind = "serial", serial = v, line = rec.line }
      end
    end
    if item then
      if item.serial and item.serial:find("%c") then
        return nil, errors.input("InvalidTargets", string.format("%s line %d: serial number holds control characters",
          name, rec.line))
      end
      items[#items + 1] = item
    end
  end
  if #items == 0 then return nil, errors.input("InvalidTargets", name .. ": no serial numbers or device ids") end
  return items
end

--- Targets from a CSV file.
-- @tparam string path
-- @treturn[1] table items as for `from_csv_text`
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"InvalidTargets"` (unreadable file, no targets)
function M.from_csv_file(path)
  local f, why = io.open(path, "rb")
  if not f then return nil, errors.input("InvalidTargets", "cannot read CSV file: " .. tostring(why)) end
  local text = f:read("a")
  f:close()
  if not text then return nil, errors.input("InvalidTargets", "cannot read CSV file " .. path) end
  return M.from_csv_text(text, path)
end

local function array_items(list, what)
  local items = {}
  local n = #list
  if getmetatable(list) == nil then
    -- a plain array mixed with other keys is a mistake (e.g. ids and a query together); say so
    for k in pairs(list) do
      if math.type(k) ~= "integer" or k < 1 or k > n then
        error(what .. ": an array of targets cannot also have the key '" .. tostring(k) .. "'", 4)
      end
    end
  end
  for i = 1, n do
    local v = list[i]
    if type(v) == "string" then
      local ok, why = ids.check(v)
      if not ok then error(string.format("%s[%d]: %s", what, i, why), 4) end
      items[#items + 1] = { kind = "id", id = v, index = i }
    elseif type(v) == "table" then
      local ok, why = ids.check(v.id)
      if not ok then error(string.format("%s[%d]: a device table needs its id: %s", what, i, why), 4) end
      items[#items + 1] = { kind = "device", id = v.id, device = v, index = i }
    else
      error(string.format("%s[%d]: expected a device id or a device table, got %s", what, i, type(v)), 4)
    end
  end
  return items
end

local function serial_items(list)
  if type(list) ~= "table" then error("targets.serials must be an array of strings, got " .. type(list), 4) end
  local items = {}
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "string" then error(string.format("targets.serials[%d] must be a string, got %s", i, type(v)), 4) end
    local s = trim(v)
    if s == "" or s:find("%c") then
      error(string.format("targets.serials[%d] must be a non-empty serial number without control characters", i), 4)
    end
    items[#items + 1] = { kind = "serial", serial = s, index = i }
  end
  return items
end

--- Normalise targets. Programmer errors raise (the message names the offending element).
-- @param targets see the module description
-- @treturn[1] table `{ items = { item, ... } }` or `{ query = query_table }`, plus `source` (a short description)
-- @return[2] nil
-- @treturn[2] autopilot.Error code `"InvalidTargets"` (an unreadable or empty CSV file)
function M.normalize(targets)
  local tt = type(targets)
  if tt == "string" then
    if ids.is_guid(targets) then return { items = { { kind = "id", id = targets, index = 1 } }, source = "id" } end
    local items, err = M.from_csv_file(targets)
    if not items then return nil, err end
    return { items = items, source = "csv" }
  end
  if tt ~= "table" then
    error("targets must be an array of ids or devices, a query table or a CSV path, got " .. tt, 3)
  end
  if targets[1] ~= nil or next(targets) == nil then
    return { items = array_items(targets, "targets"), source = "list" }
  end
  if targets.csv ~= nil then
    if type(targets.csv) ~= "string" then error("targets.csv must be a path, got " .. type(targets.csv), 3) end
    if next(targets, next(targets)) ~= nil or next(targets) ~= "csv" then
      error("targets: { csv = path } takes no other keys", 3)
    end
    local items, err = M.from_csv_file(targets.csv)
    if not items then return nil, err end
    return { items = items, source = "csv" }
  end
  if targets.serials ~= nil then
    for k in pairs(targets) do
      if k ~= "serials" then
        error("targets: { serials = {...} } takes no other keys, got '" .. tostring(k) .. "'", 3)
      end
    end
    return { items = serial_items(targets.serials), source = "serials" }
  end
  if targets.id ~= nil then
    -- one device table (queries have no `id` key)
    return { items = array_items({ targets }, "targets"), source = "device" }
  end
  return { query = targets, source = "query" }
end

return M
