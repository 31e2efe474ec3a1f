--- Serial numbers: the one trimming rule, used by CSV cells, `serials` targets, `serial` queries and the
-- bulk plan's index alike, so " SN1 " finds the device "SN1" wherever it is typed.
--
-- Only surrounding white space goes: ASCII white space, no-break spaces (U+00A0, which spreadsheets paste)
-- and stray byte order marks (U+FEFF). Inner spaces stay: real serial numbers can hold them.
-- @module autopilot.serial
local M = {}

local EDGE = "[%s]"
local NBSP, BOM = "\194\160", "\239\187\191"

local function strip_left(s)
  while true do
    if s:find("^" .. EDGE) then
      s = s:gsub("^%s+", "")
    elseif s:sub(1, 2) == NBSP then
      s = s:sub(3)
    elseif s:sub(1, 3) == BOM then
      s = s:sub(4)
    else
      return s
    end
  end
end

local function strip_right(s)
  while true do
    if s:find(EDGE .. "$") then
      s = s:gsub("%s+$", "")
    elseif s:sub(-2) == NBSP then
      s = s:sub(1, -3)
    elseif #s >= 3 and s:sub(-3) == BOM then
      s = s:sub(1, -4)
    else
      return s
    end
  end
end

--- A serial number without its surrounding white space.
-- @tparam string s
-- @treturn string (maybe empty)
function M.trim(s)
  return strip_right(strip_left(s))
end

return M
