--- Device queries and paging over Intune's OData collection.
--
-- Intune rejects `eq` on this collection, so keyed lookups ask the service for `contains(...)` and then
-- compare exactly here. When the service rejects the filter itself (as it did for values with hyphens),
-- the lookup falls back to a full scan with the same exact comparison (a raw `filter` is still sent).
-- Paging follows `@odata.nextLink` as given, drops the devices that the inclusive `$skiptoken` cursor
-- repeats, and stops when a link repeats or a page brings nothing new (the `$top=1` loop).
-- @module autopilot.odata
local errors = require "autopilot.errors"
local serial = require "autopilot.serial"

local M = {}

-- query key -> Graph property, whether the comparison ignores case, and whether it ignores surrounding white
-- space (`autopilot.serial.trim`, as the bulk plan and CSV cells do: "SN1 " and "SN1" are one serial, and
-- `{ serial = " SN1 " }` asks the service for SN1)
local KEYS = {
  serial = { property = "serialNumber", fold = false, trim = true },
  group_tag = { property = "groupTag", fold = true },
  model = { property = "model", fold = true },
  user = { property = "userPrincipalName", fold = true },
  display_name = { property = "displayName", fold = true },
}
local ORDER = { "serial", "group_tag", "model", "user", "display_name" }

--- Percent-encode a string for a URL query value (RFC 3986 unreserved characters stay).
-- @tparam string s
-- @treturn string
function M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function quote(value)
  return "'" .. value:gsub("'", "''") .. "'"
end

--- Check a query table and turn it into a plan. Wrong keys or types raise: they are programmer errors.
-- @tparam[opt] table query keys `serial`, `group_tag`, `model`, `user`, `display_name` (exact matches),
--   `filter` (raw OData, sent as is), `top` (page size, 1..1000)
-- @treturn table plan `{ filter = string|nil, keyed = boolean, top = n|nil, query = query }`
function M.plan(query)
  query = query or {}
  if type(query) ~= "table" then error("query must be a table, got " .. type(query), 3) end
  for k, v in pairs(query) do
    if KEYS[k] then
      if type(v) ~= "string" then error("query." .. tostring(k) .. " must be a string, got " .. type(v), 3) end
      if KEYS[k].trim then v = serial.trim(v) end
      if v == "" or v:find("%c") then
        error("query." .. k .. " must be a non-empty string without control characters", 3)
      end
    elseif k == "filter" then
      if type(v) ~= "string" then error("query.filter must be a string, got " .. type(v), 3) end
    elseif k == "top" then
      if math.type(v) ~= "integer" or v < 1 or v > 1000 then error("query.top must be an integer from 1 to 1000", 3) end
    else
      error("unknown query key '" .. tostring(k) .. "' (serial, group_tag, model, user, display_name, filter, top)", 3)
    end
  end
  local clauses = {}
  for _, k in ipairs(ORDER) do
    local v = query[k]
    if v and KEYS[k].trim then v = serial.trim(v) end
    if v then clauses[#clauses + 1] = "contains(" .. KEYS[k].property .. "," .. quote(v) .. ")" end
  end
  local keyed = #clauses > 0
  if query.filter then clauses[#clauses + 1] = keyed and "(" .. query.filter .. ")" or query.filter end
  return { filter = #clauses > 0 and table.concat(clauses, " and ") or nil, keyed = keyed, top = query.top,
           query = query }
end

--- The collection URL of a plan.
-- @tparam string base the collection URL without query
-- @tparam table plan from `plan`
-- @tparam[opt] boolean unfiltered leave out the keyed clauses (the full-scan fallback); a raw `filter` stays,
--   since it cannot be checked here
-- @treturn string
function M.url(base, plan, unfiltered)
  local params = {}
  local filter = plan.filter
  if unfiltered then filter = plan.query and plan.query.filter end
  if filter then params[#params + 1] = "$filter=" .. M.urlencode(filter) end
  if plan.top then params[#params + 1] = "$top=" .. plan.top end
  if #params == 0 then return base end
  return base .. "?" .. table.concat(params, "&")
end

--- Whether a device matches the keyed parts of a query exactly (serial numbers without regard to surrounding
-- white space).
-- @tparam table device
-- @tparam table plan from `plan`
-- @treturn boolean
function M.matches(device, plan)
  for k, spec in pairs(KEYS) do
    local want = plan.query[k]
    if want then
      local have = device[spec.property]
      if type(have) ~= "string" then return false end
      if spec.trim then have, want = serial.trim(have), serial.trim(want) end
      if spec.fold then
        if have:lower() ~= want:lower() then return false end
      elseif have ~= want then
        return false
      end
    end
  end
  return true
end

--- Walk every page from `first_url`, one device at a time, in memory bounded by one page.
-- @tparam function fetch `fetch(url)` -> decoded page table | nil, err
-- @tparam string first_url
-- @treturn function an iterator: each call returns a device table, or `false, err` once on failure, then nil
function M.pages(fetch, first_url)
  local url, items, pos = first_url, nil, 0
  local prev_ids = {}
  local seen_links = { [first_url] = true }
  local done = false
  local function next_page()
    local page, err = fetch(url)
    if not page then return nil, err end
    local value = page.value
    if type(value) ~= "table" then
      return nil, errors.new { code = "InvalidResponse", message = "device page without a 'value' array",
                               kind = "http" }
    end
    local link = page["@odata.nextLink"]
    local page_ids, fresh = {}, {}
    for _, d in ipairs(value) do
      if type(d) == "table" and d.id ~= nil then
        if not prev_ids[d.id] and not page_ids[d.id] then fresh[#fresh + 1] = d end
        page_ids[d.id] = true
      end
    end
    -- the inclusive cursor repeats the last page's boundary: remember the last page that had devices
    if #value > 0 then prev_ids = page_ids end
    -- Stop on a repeating link, or on a non-empty page that adds nothing (the inclusive cursor's loop);
    -- an empty page with a next link is legal and is followed.
    if type(link) ~= "string" or seen_links[link] or (#value > 0 and #fresh == 0) then
      url = nil
    else
      seen_links[link] = true
      url = link
    end
    return fresh
  end
  return function()
    while not done do
      if items and pos < #items then
        pos = pos + 1
        return items[pos]
      end
      if not url then
        done = true
        return nil
      end
      local err
      items, err = next_page()
      pos = 0
      if not items then
        done = true
        return false, err
      end
    end
    return nil
  end
end

return M
