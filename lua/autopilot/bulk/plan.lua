--- The plan of a bulk run: targets resolved to devices, each with the decision taken for it.
--
-- How targets are resolved, chosen by count so that neither a few targets nor many cost too much:
--
--  * device tables are used as given (the caller has just read them): no request;
--  * a query table: one listing (`client:list_devices(query)`);
--  * up to `ID_GET_MAX` (200) device ids: one GET per id, `concurrency` at a time (200 GETs are 4 s of the
--    app's read budget of 1000 per 20 s); more ids: one listing of the tenant, streamed, keeping only the
--    devices asked for;
--  * up to `SERIAL_LOOKUP_MAX` (10) serial numbers without hyphens: one filtered lookup each
--    (`client:list_devices{ serial = ... }`, an exact match); more, or any with a hyphen (the service rejects
--    those filters, so each lookup would become a full scan anyway): one listing, indexed by serial number.
--
-- Decisions, in this order: a target seen before is a `duplicate`; an id or serial that matches no device is
-- `unknown`; a serial shared by several devices is `ambiguous` (skipped, never guessed; `ids` lists them); a
-- device the journal shows as done is `done_before`; a device with no `userPrincipalName` is
-- `already_unassigned` (unless `force`); every other device gets a write (`outcome` stays nil until then).
-- A device whose lookup itself failed (after the core's retries) is `failed`, with no write sent.
-- A restore plan decides with `autopilot.bulk.actions`' restore rules instead of `already_unassigned`.
-- Every entry with a device records the user it had as read here (`previous_upn`, `previous_user_name`):
-- the read the plan makes anyway, so knowing whose assignment a write changes costs no request.
-- @module autopilot.bulk.plan
local errors = require "autopilot.errors"
local json = require "autopilot.json"
local waiting = require "autopilot.waiting"

local PAUSE_EVERY = 250 -- plan entries between turns of an async client's host loop (~1 ms of work)
local actions = require "autopilot.bulk.actions"
local serial = require "autopilot.serial"

local M = {}

M.ID_GET_MAX = 200
M.SERIAL_LOOKUP_MAX = 10

local COLLECTION = "/deviceManagement/windowsAutopilotDeviceIdentities"

local function device_value(d)
  local ok, autopilot = pcall(require, "autopilot")
  if ok and type(autopilot) == "table" and autopilot.device_value then return autopilot.device_value(d) end
  return d
end

-- GET many devices at once through the session: id -> device | false (404) | error value.
local function get_many(client, wanted)
  local found = {}
  local queue, next_i, outstanding = wanted, 1, 0
  local cap = 16
  while next_i <= #queue or outstanding > 0 do
    while next_i <= #queue and outstanding < cap do
      local id = queue[next_i]
      next_i = next_i + 1
      waiting.submit(client, { method = "GET", url = client:_url(COLLECTION .. "/" .. id), idempotent = true,
                               tag = { plan_get = id } }, found)
      outstanding = outstanding + 1
    end
    local results, cerr = waiting.poll(client, found, 1)
    if not results then return nil, cerr end
    for _, r in ipairs(results) do
      local tag = r.tag
      if type(tag) == "table" and tag.plan_get then
        outstanding = outstanding - 1
        local err = errors.from_result(r)
        if err and err.status == 404 then
          found[tag.plan_get:lower()] = false
        elseif err then
          found[tag.plan_get:lower()] = err
        else
          local d = json.decode(r.body or "")
          if type(d) == "table" and type(d.id) == "string" then
            found[tag.plan_get:lower()] = device_value(d)
          else
            found[tag.plan_get:lower()] = errors.invalid_response(r, "the device reply is not a device")
          end
        end
      end
    end
  end
  return found
end

--- Resolve normalised targets (see `autopilot.bulk.targets`) into plan entries.
-- @tparam table client an `autopilot.Client`
-- @tparam table norm from `targets.normalize`
-- @tparam table opts checked options (`force`)
-- @tparam[opt] table done the journal's done set, id -> line
-- @tparam[opt] table action `autopilot.bulk.actions.unassign` (the default) or `.restore`
-- @treturn[1] table array of entries `{ id =, serial =, device =, outcome = nil|string, previous_upn =,
--   previous_user_name =, ... }`
-- @return[2] nil
-- @treturn[2] autopilot.Error a listing failed (nothing was written)
function M.build(client, norm, opts, done, action)
  done = done or {}
  action = action or actions.unassign
  local entries = {}
  local seen = {}          -- device id -> true
  local seen_serial = {}   -- serial target -> true

  local function decide(e, d)
    e.device = d
    e.id = d.id or e.id
    local key = e.id:lower()
    if type(d.serialNumber) == "string" then e.serial = d.serialNumber end
    if seen[key] then
      e.outcome = "duplicate"
      e.message = "the same device appears earlier in the targets"
      e.device = nil
      return
    end
    seen[key] = true
    actions.note_previous(e, d)
    if done[key] then
      e.outcome = "done_before"
      e.message = "the journal records an earlier " .. tostring(done[key].outcome)
    else
      e.outcome, e.message = action.decide(e, d, opts)
    end
  end

  if norm.query then
    local list, err = client:list_devices(norm.query)
    if not list then return nil, err end
    for i, d in ipairs(list) do
      local e = { index = i }
      entries[#entries + 1] = e
      decide(e, d)
    end
    return entries
  end

  local items = norm.items
  local id_items, serial_items, hyphen = {}, {}, false
  for _, it in ipairs(items) do
    if it.kind == "id" then id_items[#id_items + 1] = it end
    if it.kind == "serial" then
      serial_items[#serial_items + 1] = it
      if it.serial:find("-", 1, true) then hyphen = true end
    end
  end
  local listing = #id_items > M.ID_GET_MAX or #serial_items > M.SERIAL_LOOKUP_MAX or hyphen

  local by_id, by_serial = {}, {}
  if listing then
    local want_id, want_serial = {}, {}
    for _, it in ipairs(id_items) do want_id[it.id:lower()] = true end
    for _, it in ipairs(serial_items) do want_serial[it.serial] = true end
    for d, err in client:each_device() do
      if not d then return nil, err end
      local id = type(d.id) == "string" and d.id:lower() or nil
      if id and want_id[id] then by_id[id] = d end
      local sn = type(d.serialNumber) == "string" and serial.trim(d.serialNumber) or nil
      if sn and want_serial[sn] then
        local list = by_serial[sn] or {}
        -- the inclusive cursor may repeat a device: count each id once
        local dup = false
        for _, x in ipairs(list) do if x.id == d.id then dup = true end end
        if not dup then list[#list + 1] = d end
        by_serial[sn] = list
      end
    end
    for _, it in ipairs(id_items) do
      if by_id[it.id:lower()] == nil then by_id[it.id:lower()] = false end
    end
  else
    local wanted, queued = {}, {}
    for _, it in ipairs(id_items) do
      if not queued[it.id:lower()] then
        queued[it.id:lower()] = true
        wanted[#wanted + 1] = it.id
      end
    end
    if #wanted > 0 then
      local gerr
      by_id, gerr = get_many(client, wanted)
      if not by_id then return nil, gerr end
    end
    for _, it in ipairs(serial_items) do
      if by_serial[it.serial] == nil then
        local list, err = client:list_devices { serial = it.serial }
        if not list then
          by_serial[it.serial] = err
        else
          by_serial[it.serial] = list
        end
      end
    end
  end

  for n, it in ipairs(items) do
    if n % PAUSE_EVERY == 0 then -- an async client's host loop gets a turn in a long plan
      local ok, perr = waiting.pause(client)
      if not ok then return nil, perr end
    end
    local e = { index = it.index, line = it.line, id = it.id, serial = it.serial }
    if it.restore then e.restored_upn, e.restored_user_name = it.restore.upn, it.restore.name end
    entries[#entries + 1] = e
    if it.kind == "device" then
      decide(e, it.device)
    elseif it.kind == "id" then
      local d = by_id[it.id:lower()]
      if seen[it.id:lower()] then
        e.outcome, e.message = "duplicate", "the same device appears earlier in the targets"
      elseif d == false then
        e.outcome, e.message = "unknown", "no device with this id"
      elseif errors.is_error(d) then
        e.outcome, e.status, e.code, e.request_id = "failed", d.status, d.code, d.request_id
        e.message = "lookup failed: " .. tostring(d.message)
      else
        decide(e, d)
      end
    else -- serial
      local found = by_serial[it.serial]
      if seen_serial[it.serial] then
        e.outcome, e.message = "duplicate", "the same serial number appears earlier in the targets"
      elseif errors.is_error(found) then
        e.outcome, e.status, e.code, e.request_id = "failed", found.status, found.code, found.request_id
        e.message = "lookup failed: " .. tostring(found.message)
      elseif not found or #found == 0 then
        e.outcome, e.message = "unknown", "no device with this serial number"
      elseif #found > 1 then
        e.outcome = "ambiguous"
        e.ids = {}
        for i, d in ipairs(found) do e.ids[i] = d.id end
        table.sort(e.ids)
        e.message = string.format("%d devices share this serial number: %s", #found, table.concat(e.ids, " "))
      else
        decide(e, found[1])
      end
      seen_serial[it.serial] = true
    end
  end
  return entries
end

return M
