--- Devices as text for `autopilot list`: an aligned table, CSV, one JSON array, or JSON lines.
-- Pure functions returning text; the caller prints it.
-- @module autopilot.cli.output
local csv = require "autopilot.csv"
local json = require "autopilot.json"

local M = {}

--- The columns of `list` without --columns.
M.DEFAULT_COLUMNS = { "id", "serialNumber", "userPrincipalName", "groupTag", "model" }
M.FORMATS = { table = true, csv = true, json = true, jsonl = true }

--- Column names from `--columns` text: Graph property names, comma-separated.
-- @tparam string|nil text
-- @treturn[1] table names (the defaults for nil)
-- @return[2] nil
-- @treturn[2] string the usage message
function M.columns(text)
  if text == nil then return M.DEFAULT_COLUMNS end
  local names = {}
  for name in (text .. ","):gmatch("([^,]*),") do
    name = name:match("^%s*(.-)%s*$")
    if not name:find("^[%a][%w@%.]*$") then
      return nil, "--columns takes Graph property names separated by commas (e.g. id,serialNumber), got '"
        .. text .. "'"
    end
    names[#names + 1] = name
  end
  return names
end

local function cell(v)
  if v == nil or v == json.null then return "" end
  if type(v) == "table" then return (json.encode(v)) end
  return (tostring(v):gsub("%c", " "))
end

-- a CSV field as the bulk report writes one (formula cells quoted), from the cell's text
local function csv_cell(v)
  return csv.field(cell(v))
end

local function project(d, columns)
  local out = {}
  for _, c in ipairs(columns) do out[c] = d[c] end
  return out
end

--- Render devices.
-- @tparam table devices array of device tables
-- @tparam string format "table", "csv", "json" or "jsonl"
-- @tparam table columns property names; json and jsonl keep only these when `explicit`
-- @tparam boolean explicit whether the columns were asked for (json and jsonl give whole devices otherwise)
-- @treturn string the text, ending in a newline unless empty
function M.render(devices, format, columns, explicit)
  local lines = {}
  if format == "jsonl" then
    for _, d in ipairs(devices) do lines[#lines + 1] = json.encode(explicit and project(d, columns) or d) end
  elseif format == "json" then
    local list = {}
    for i, d in ipairs(devices) do list[i] = explicit and project(d, columns) or d end
    return (#list == 0 and "[]" or json.encode(list)) .. "\n"
  elseif format == "csv" then
    local row = {}
    for i, c in ipairs(columns) do row[i] = csv_cell(c) end
    lines[1] = table.concat(row, ",")
    for _, d in ipairs(devices) do
      row = {}
      for i, c in ipairs(columns) do row[i] = csv_cell(d[c]) end
      lines[#lines + 1] = table.concat(row, ",")
    end
  else
    local widths, rows = {}, { columns }
    for _, d in ipairs(devices) do
      local row = {}
      for i, c in ipairs(columns) do row[i] = cell(d[c]) end
      rows[#rows + 1] = row
    end
    for _, row in ipairs(rows) do
      for i, v in ipairs(row) do widths[i] = math.max(widths[i] or 0, utf8.len(v) or #v) end
    end
    for _, row in ipairs(rows) do
      local parts = {}
      for i, v in ipairs(row) do
        parts[i] = i == #row and v or (v .. string.rep(" ", widths[i] - (utf8.len(v) or #v)))
      end
      lines[#lines + 1] = table.concat(parts, "  ")
    end
  end
  if #lines == 0 then return "" end
  return table.concat(lines, "\n") .. "\n"
end

--- One device's properties, one per line, sorted by name (for `show`).
-- @tparam table d
-- @treturn string
function M.properties(d)
  local keys = {}
  for k in pairs(d) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do lines[#lines + 1] = string.format("%-36s %s", k, cell(d[k])) end
  return table.concat(lines, "\n") .. "\n"
end

return M
