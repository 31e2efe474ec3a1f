--- Writing CSV: one field encoder for the bulk reports and the command line's `--output csv`.
-- @module autopilot.csv
local M = {}

--- One CSV field: quoted when it holds a quote, comma or line break; a string a spreadsheet would run as a
-- formula (starting with = + - @, tab or CR) gets a leading quote (OWASP's CSV injection advice).
-- @param v a string, a number or nil (nil is an empty field)
-- @treturn string
function M.field(v)
  if v == nil then return "" end
  local s = tostring(v)
  if s:find("^[=+%-@\t\r]") and type(v) == "string" then s = "'" .. s end
  if s:find('[",\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

return M
