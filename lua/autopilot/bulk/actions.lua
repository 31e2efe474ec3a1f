--- What a bulk run does to each device: the two actions that share the plan / pacing / journal / verify /
-- report machinery.
--
--  * `unassign` (`client:unassign_users`): `unassignUserFromDevice`; a device with no user is
--    `already_unassigned` (unless `force`); verified when its user is gone.
--  * `restore` (`client:restore`): `assignUserToDevice` with the user an earlier run removed; a device whose
--    user is that user again is `already_restored`, one with another user is `skipped_changed` (someone
--    assigned it since: never overwritten), a record without a removed user is `no_previous_user`; verified
--    when the device shows the restored user.
--
-- An action's `outcome` (`"unassigned"`, `"restored"`) is also the verb of the progress line.
--
-- Every entry records the user the device had when the plan read it (`previous_upn`, `previous_user_name`),
-- so a report or journal says whose assignment a write changed.
-- @module autopilot.bulk.actions
local M = {}

local function upn_of(d)
  local v = d and d.userPrincipalName
  return type(v) == "string" and v or ""
end

-- UPNs compare without regard to case, as Entra compares them.
local function same_user(a, b)
  return a:lower() == b:lower()
end

--- Record on an entry the user its device has now (read by the plan, before any write).
-- @tparam table e the plan entry
-- @tparam table d the device
function M.note_previous(e, d)
  local upn, name = upn_of(d), d.addressableUserName
  e.previous_upn = upn ~= "" and upn or nil
  e.previous_user_name = type(name) == "string" and name ~= "" and name or nil
end

--- Unassign the user (the default action).
M.unassign = {
  kind = "unassign",
  fname = "unassign_users",
  action = "unassignUserFromDevice",
  outcome = "unassigned",
  dry_outcome = "would_unassign",
  dry_message = "dry run: nothing sent",
  unverified = "a user is still assigned", -- what verify sees while the write is not visible
  -- journal outcomes that leave nothing to do for a device
  done = { unassigned = true, already_unassigned = true },
}

--- The request body (none for unassign).
-- @treturn nil
function M.unassign.body()
  return nil
end

--- The plan's decision for a device that is neither a duplicate nor done before.
-- @tparam table e the entry
-- @tparam table d the device
-- @tparam table opts checked options (`force`)
-- @treturn string|nil outcome (nil: write)
-- @treturn string|nil message
function M.unassign.decide(_, d, opts)
  if upn_of(d) == "" and not opts.force then return "already_unassigned", "no assigned user" end
  return nil
end

--- Whether a device read back shows the write took effect.
-- @tparam table e the entry
-- @tparam table d the device as read
-- @treturn boolean
function M.unassign.verified(_, d)
  return upn_of(d) == ""
end

--- Put back the user an earlier run removed.
M.restore = {
  kind = "restore",
  fname = "restore",
  action = "assignUserToDevice",
  outcome = "restored",
  dry_outcome = "would_restore",
  dry_message = "dry run: nothing sent",
  unverified = "the restored user is not shown",
  done = { restored = true, already_restored = true },
}

--- The `assignUserToDevice` body: the removed user, and the name shown at sign-in when there was one.
-- @tparam table e the entry (`restored_upn`, `restored_user_name`)
-- @treturn table
function M.restore.body(e)
  return { userPrincipalName = e.restored_upn, addressableUserName = e.restored_user_name }
end

--- The plan's decision (see the module description).
-- @tparam table e the entry (`restored_upn` from the source record)
-- @tparam table d the device
-- @treturn string|nil outcome (nil: write)
-- @treturn string|nil message
function M.restore.decide(e, d)
  local want, now = e.restored_upn, upn_of(d)
  if not want then return "no_previous_user", "the run recorded no user on this device" end
  if now == "" then return nil end
  if same_user(now, want) then return "already_restored", "the device has this user again" end
  return "skipped_changed", "the user changed since the run: now " .. now .. ", removed " .. want
end

--- Whether a device read back shows the restored user.
-- @tparam table e the entry
-- @tparam table d the device as read
-- @treturn boolean
function M.restore.verified(e, d)
  return same_user(upn_of(d), e.restored_upn)
end

return M
