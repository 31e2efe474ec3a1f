--- The commands on single devices and lists: list, show, unassign, assign, set, delete.
-- Each command is `{ check = function(flags, words) -> true | nil, usage message, run = function(client,
-- flags, words) -> exit status }`; `check` runs before connecting, so a usage error sends nothing.
-- @module autopilot.cli.device_commands
local args = require "autopilot.cli.args"
local output = require "autopilot.cli.output"
local prompt = require "autopilot.cli.prompt"
local messages = require "autopilot.cli.messages"
local commands = require "autopilot.cli.commands"
local json = require "autopilot.json"

local M = {}

local FILTER_KEYS = { "serial", "group_tag", "model", "user", "filter" }

local function fail(err)
  io.stderr:write("autopilot: ", messages.cli(err), "\n")
  return commands.FAILED
end

--- The device id a command names: its one word, or the one device with `--serial`.
-- @tparam autopilot.Client client
-- @tparam table flags
-- @tparam table words
-- @treturn[1] string id
-- @return[2] nil
-- @treturn[2] string|autopilot.Error why (not found, several, the listing failed)
function M.resolve(client, flags, words)
  if not flags.serial then return words[1] end
  local list, err = client:list_devices { serial = flags.serial }
  if not list then return nil, err end
  if #list == 0 then return nil, "no device has serial number '" .. flags.serial .. "'" end
  if #list > 1 then
    local ids = {}
    for i, d in ipairs(list) do ids[i] = d.id end
    return nil, #list .. " devices have serial number '" .. flags.serial .. "': give one id (" ..
      table.concat(ids, ", ") .. ")"
  end
  return list[1].id
end

-- One device: an id or --serial, not both, not more.
local function one_device(flags, words, name)
  if flags.serial and #words > 0 then return nil, name .. " takes an id or --serial, not both" end
  if not flags.serial and #words ~= 1 then return nil, name .. " takes one device id (or --serial SERIAL)" end
  return true
end

local function list_query(flags)
  local q = {}
  for _, k in ipairs(FILTER_KEYS) do q[k] = flags[k] end
  return q
end

local function list_format(flags)
  if flags.json and flags.output and flags.output ~= "jsonl" then
    return nil, "--json is --output jsonl: give one of them"
  end
  local format = flags.output or (flags.json and "jsonl") or "table"
  if not output.FORMATS[format] then return nil, "--output takes table, csv, json or jsonl, got '" .. format .. "'" end
  return format
end

M.list = {
  check = function(flags, words)
    if #words > 0 then return nil, "list takes filters such as --serial, not '" .. words[1] .. "'" end
    for _, k in ipairs(FILTER_KEYS) do
      local v = flags[k]
      if v and (v:match("^%s*$") or v:find("%c")) then
        return nil, "a filter needs a value without control characters, got '" .. v .. "'"
      end
    end
    local _, terr = args.integer(flags.top, "--top", 1, math.maxinteger)
    if terr then return nil, terr end
    local _, ferr = list_format(flags)
    if ferr then return nil, ferr end
    local _, cerr = output.columns(flags.columns)
    if cerr then return nil, cerr end
    return true
  end,
  run = function(client, flags)
    local top = args.integer(flags.top, "--top", 1, math.maxinteger)
    local query = list_query(flags)
    -- a cap small enough for one page is asked of the service as the page size: one request, not all pages
    if top then query.top = math.min(top, 1000) end
    local devices, seen = {}, {}
    for d, err in client:each_device(query) do
      if not d then return fail(err) end
      if not seen[d.id] then
        seen[d.id] = true
        devices[#devices + 1] = d
        if top and #devices >= top then break end
      end
    end
    io.stdout:write(output.render(devices, (list_format(flags)), (output.columns(flags.columns)),
      flags.columns ~= nil))
    io.stderr:write(#devices, " device(s)\n")
    return commands.OK
  end,
}

M.show = {
  check = function(flags, words) return one_device(flags, words, "show") end,
  run = function(client, flags, words)
    local id, rerr = M.resolve(client, flags, words)
    if not id then return fail(rerr) end
    local d, err = client:device(id)
    if not d then return fail(err) end
    io.stdout:write(flags.json and (json.encode(d) .. "\n") or output.properties(d))
    return commands.OK
  end,
}

M.unassign = {
  check = function(flags, words)
    if flags.serial and #words > 0 then return nil, "unassign takes ids or --serial, not both" end
    if not flags.serial and #words == 0 then return nil, "unassign takes one or more device ids (or --serial)" end
    return true
  end,
  run = function(client, flags, words)
    local ids = words
    if flags.serial then
      local id, rerr = M.resolve(client, flags, words)
      if not id then return fail(rerr) end
      ids = { id }
    end
    local status = commands.OK
    for _, id in ipairs(ids) do
      local ok, err = client:unassign_user(id)
      if ok then
        print(id .. "\tunassigned")
      else
        print(id .. "\tfailed\t" .. messages.cli(err))
        status = commands.FAILED
      end
    end
    return status
  end,
}

M.assign = {
  check = function(flags, words)
    local ok, err = one_device(flags, words, "assign")
    if not ok then return nil, err end
    if not flags.upn then return nil, "assign needs --upn UPN (the user principal name to assign)" end
    return true
  end,
  run = function(client, flags, words)
    local id, rerr = M.resolve(client, flags, words)
    if not id then return fail(rerr) end
    local ok, err = client:assign_user(id, flags.upn, flags.user_name)
    if not ok then return fail(err) end
    print(id .. "\tassigned\t" .. flags.upn)
    return commands.OK
  end,
}

M.set = {
  check = function(flags, words)
    local ok, err = one_device(flags, words, "set")
    if not ok then return nil, err end
    if not flags.group_tag and not flags.display_name then
      return nil, "set needs --group-tag TAG or --display-name NAME (or both)"
    end
    return true
  end,
  run = function(client, flags, words)
    local id, rerr = M.resolve(client, flags, words)
    if not id then return fail(rerr) end
    local ok, err = client:update_device(id, { groupTag = flags.group_tag, displayName = flags.display_name })
    if not ok then return fail(err) end
    print(id .. "\tupdated")
    return commands.OK
  end,
}

M.delete = {
  check = function(flags, words)
    local ok, err = one_device(flags, words, "delete")
    if not ok then return nil, err end
    -- refused before connecting: without a terminal nobody can answer the question
    if not flags.yes and not prompt.is_tty() then
      return nil, "delete asks for confirmation, and this is not a terminal: add --yes to go ahead"
    end
    return true
  end,
  run = function(client, flags, words)
    local id, rerr = M.resolve(client, flags, words)
    if not id then return fail(rerr) end
    local ok, why = prompt.approve("Delete the Autopilot registration of device " .. id
      .. (flags.serial and (" (serial " .. flags.serial .. ")") or "") .. "?", flags.yes)
    if not ok then
      io.stderr:write("autopilot: ", why, "\n")
      return commands.USAGE
    end
    local done, err = client:delete_device(id)
    if not done then return fail(err) end
    print(id .. "\tdeleted")
    return commands.OK
  end,
}

return M
