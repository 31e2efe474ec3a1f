--- Deterministic tenant contents: Autopilot device records from a seed, or from a file.
-- Records carry every v1.0 and beta property, with "" (never null) for unset strings, the all-zero
-- GUID as managedDeviceId of devices never enrolled, duplicate and junk serial numbers, serials
-- with spaces and hyphens, several group tags and models, and an assigned user on about 60%.
-- Every documented value of each enum appears, the common one most often (see `ENUMS`), with the
-- deployment-profile fields consistent with the profiles a device has (see `assign_profile`).
-- Keys starting with "_" are the emulator's own (`_profile`: the deployment profile assigned now,
-- `_intended`: the one group assignment asks for; ids of autopilot.emulator.profiles) and never rendered.
-- @module autopilot.emulator.generator
local profiles = require "autopilot.emulator.profiles"
local random = require "autopilot.emulator.random"
local cjson = require("cjson.safe").new()

local M = {}

M.ZERO_GUID = "00000000-0000-0000-0000-000000000000"

--- Properties of the v1.0 resource, in the order the service writes them.
M.V1_FIELDS = {
  "id", "groupTag", "purchaseOrderIdentifier", "serialNumber", "productKey", "manufacturer", "model",
  "enrollmentState", "lastContactedDateTime", "addressableUserName", "userPrincipalName", "resourceName",
  "skuNumber", "systemFamily", "azureActiveDirectoryDeviceId", "managedDeviceId", "displayName",
}
--- Properties beta adds.
M.BETA_FIELDS = {
  "deploymentProfileAssignmentStatus", "deploymentProfileAssignmentDetailedStatus",
  "deploymentProfileAssignedDateTime", "azureAdDeviceId", "deviceAccountUpn", "deviceAccountPassword",
  "deviceFriendlyName", "remediationState", "remediationStateLastModifiedDateTime", "userlessEnrollmentStatus",
}

local MODELS = {
  { "Dell Inc.", "Latitude 5440", "Latitude", "dell" },
  { "Dell Inc.", "Latitude 7430", "Latitude", "dell" },
  { "Dell Inc.", "OptiPlex 7010", "OptiPlex", "dell" },
  { "HP", "HP EliteBook 840 G9", "103C_5336AN HP EliteBook", "hp" },
  { "HP", "HP ProBook 450 G10", "103C_5336AN HP ProBook", "hp" },
  { "LENOVO", "21HD000QUK", "ThinkPad T14 Gen 4", "lenovo" },
  { "LENOVO", "20XW00GVUK", "ThinkPad X1 Carbon Gen 9", "lenovo" },
  { "Microsoft Corporation", "Surface Laptop 5", "Surface", "surface" },
  { "Microsoft Corporation", "Surface Pro 9", "Surface", "surface" },
  { "Microsoft Corporation", "Virtual Machine", "Virtual Machine", "hyperv" },
  { "VMware, Inc.", "VMware7,1", "VMware", "vmware" },
}
local GROUP_TAGS = { "", "", "", "Kiosk", "Sales", "Engineering", "SharedPC", "HR-EMEA", "Finance" }
local JUNK = { "Default string", "To be filled by O.E.M.", "System Serial Number", "0" }
local FIRST = { "Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia",
  "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep" }
local LAST = { "Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Langer", "Lanier", "Sherman", "Gu",
  "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta" }
local ENROLL = { "enrolled", "enrolled", "enrolled", "notContacted", "notContacted", "pendingReset", "failed",
  "unknown" }
local ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

--- Every documented value of the enums (Microsoft's beta resource page; v1.0's enrollmentState lacks
-- `blocked`). `assignedUnkownSyncState` is the service's own spelling.
M.ENUMS = {
  enrollmentState = { "unknown", "enrolled", "pendingReset", "failed", "notContacted", "blocked" },
  deploymentProfileAssignmentStatus = { "unknown", "assignedInSync", "assignedOutOfSync", "assignedUnkownSyncState",
    "notAssigned", "pending", "failed" },
  deploymentProfileAssignmentDetailedStatus = { "none", "hardwareRequirementsNotMet", "surfaceHubProfileNotSupported",
    "holoLensProfileNotSupported", "windowsPcProfileNotSupported", "surfaceHub2SProfileNotSupported",
    "unknownFutureValue" },
  remediationState = { "unknown", "noRemediationRequired", "automaticRemediationRequired",
    "manualRemediationRequired", "unknownFutureValue" },
  userlessEnrollmentStatus = { "unknown", "allowed", "blocked", "unknownFutureValue" },
}
--- The enrollmentState values v1.0 documents; others are sent there as "unknown".
M.V1_ENROLLMENT = { unknown = true, enrolled = true, pendingReset = true, failed = true, notContacted = true }

-- Why a profile assignment failed (every non-"none" detailed status).
local FAILURES = { "hardwareRequirementsNotMet", "surfaceHubProfileNotSupported", "holoLensProfileNotSupported",
  "windowsPcProfileNotSupported", "surfaceHub2SProfileNotSupported", "unknownFutureValue" }

local function alnum(rng, n)
  local t = {}
  for i = 1, n do
    local k = rng:int(1, #ALNUM)
    t[i] = ALNUM:sub(k, k)
  end
  return table.concat(t)
end

local function hexpairs(rng, n)
  local t = {}
  for i = 1, n do t[i] = string.format("%02x", rng:int(0, 255)) end
  return t
end

local function serial_for(rng, kind)
  if kind == "dell" then return alnum(rng, 7)
  elseif kind == "hp" then return "5CG" .. tostring(rng:int(1000, 9999)) .. alnum(rng, 3)
  elseif kind == "lenovo" then return "PF" .. alnum(rng, 6)
  elseif kind == "surface" then return string.format("%012d", rng:int(0, 999999999) * 1000 + rng:int(0, 999))
  elseif kind == "vmware" then
    local p = hexpairs(rng, 16)
    return "VMware-" .. table.concat(p, " ", 1, 8) .. "-" .. table.concat(p, " ", 9, 16)
  else -- Hyper-V: groups of digits joined by hyphens
    return string.format("%04d-%04d-%04d-%04d-%04d-%04d-%02d", rng:int(0, 9999), rng:int(0, 9999),
      rng:int(0, 9999), rng:int(0, 9999), rng:int(0, 9999), rng:int(0, 9999), rng:int(0, 99))
  end
end

-- 2026-01-01T00:00:00Z minus up to two years, as Graph's DateTimeOffset text.
local EPOCH_2026 = 1767225600
local function date_before(rng, days)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", EPOCH_2026 - rng:int(0, days * 86400))
end

--- A device record with every property set to its empty value.
-- @tparam string id the device id
-- @treturn table the record
function M.blank(id)
  local d = {}
  for _, k in ipairs(M.V1_FIELDS) do d[k] = "" end
  for _, k in ipairs(M.BETA_FIELDS) do d[k] = "" end
  d.id = id
  d.enrollmentState = "notContacted"
  d.lastContactedDateTime = "0001-01-01T00:00:00Z"
  d.managedDeviceId = M.ZERO_GUID
  d.deploymentProfileAssignmentStatus = "notAssigned"
  d.deploymentProfileAssignmentDetailedStatus = "none"
  d.deploymentProfileAssignedDateTime = "0001-01-01T00:00:00Z"
  d.remediationState = "unknown"
  d.remediationStateLastModifiedDateTime = "0001-01-01T00:00:00Z"
  d.userlessEnrollmentStatus = "unknown"
  return d
end

-- The deployment-profile fields. `target` is the profile group assignment gives the device (nil: none),
-- `in_sync` and `date` the main stream's draws (kept so older seeds keep their devices); `u` a draw of the
-- states stream. Assigned (in sync, out of sync, sync state unknown): a current profile and its date;
-- pending or failed: only an intended one (failed says why); notAssigned and unknown: neither.
local function assign_profile(d, target, in_sync, date, u, states, ids)
  if not target then
    if u < 0.1 then d.deploymentProfileAssignmentStatus = "unknown" end
    return
  end
  d._intended = target
  if u < 0.04 then
    d.deploymentProfileAssignmentStatus = "pending"
    return
  elseif u < 0.08 then
    d.deploymentProfileAssignmentStatus = "failed"
    d.deploymentProfileAssignmentDetailedStatus = states:pick(FAILURES)
    return
  end
  d._profile = target
  d.deploymentProfileAssignedDateTime = date
  if u < 0.11 then
    d.deploymentProfileAssignmentStatus = "assignedUnkownSyncState"
  elseif in_sync then
    d.deploymentProfileAssignmentStatus = "assignedInSync"
  else
    -- out of sync: the intended profile changed and the device has not picked it up yet
    d.deploymentProfileAssignmentStatus = "assignedOutOfSync"
    d._intended = states:pick(ids)
  end
end

--- Generates `n` devices, always the same ones for the same seed and domain.
-- @tparam integer n how many
-- @tparam[opt=1] integer seed
-- @tparam[opt="contoso.onmicrosoft.com"] string domain the users' UPN suffix
-- @treturn table array of device records
function M.generate(n, seed, domain)
  domain = domain or "contoso.onmicrosoft.com"
  local rng = random.new(seed or 1, "devices")
  -- the values added later draw from their own stream, so each seed keeps the devices it had
  local states = random.new(seed or 1, "device-states")
  local ids = profiles.ids(seed)
  local out, serials = {}, {}
  for i = 1, n do
    local d = M.blank(rng:guid())
    local m = MODELS[rng:int(1, #MODELS)]
    d.manufacturer, d.model, d.systemFamily = m[1], m[2], m[3]
    local r = rng:float()
    if r < 0.03 then
      d.serialNumber = rng:pick(JUNK)                          -- junk: duplicates by nature
    elseif r < 0.06 and #serials > 0 then
      d.serialNumber = serials[rng:int(1, #serials)]           -- a real duplicate
    else
      d.serialNumber = serial_for(rng, m[4])
    end
    serials[#serials + 1] = d.serialNumber
    d.groupTag = rng:pick(GROUP_TAGS)
    if rng:float() < 0.15 then d.purchaseOrderIdentifier = "PO-" .. tostring(rng:int(10000, 99999)) end
    if rng:float() < 0.1 then d.productKey = alnum(rng, 5) .. "-" .. alnum(rng, 5) .. "-" .. alnum(rng, 5) end
    d.enrollmentState = rng:pick(ENROLL)
    if states:float() < 0.02 then d.enrollmentState = "blocked" end
    d.azureActiveDirectoryDeviceId = rng:guid()
    d.azureAdDeviceId = d.azureActiveDirectoryDeviceId
    if d.enrollmentState == "enrolled" or d.enrollmentState == "pendingReset" then
      d.managedDeviceId = rng:guid()
      d.lastContactedDateTime = date_before(rng, 60)
      d.displayName = (rng:float() < 0.5 and "DESKTOP-" or "CONTOSO-") .. alnum(rng, 7)
    elseif d.enrollmentState ~= "notContacted" then
      d.lastContactedDateTime = date_before(rng, 700)
    end
    if rng:float() < 0.6 then
      local f, l = rng:pick(FIRST), rng:pick(LAST)
      d.userPrincipalName = (f .. "." .. l):lower() .. tostring(i % 97) .. "@" .. domain
      d.addressableUserName = f .. " " .. l
    end
    local target, in_sync, assigned_at
    if rng:float() < 0.85 then
      target = ids[rng:int(1, 3)] -- the fourth profile is assigned to no group
      in_sync = rng:float() < 0.9
      assigned_at = date_before(rng, 700)
    end
    assign_profile(d, target, in_sync, assigned_at, states:float(), states, ids)
    if rng:float() < 0.05 then d.deviceFriendlyName = "Meeting room " .. tostring(rng:int(1, 40)) end
    local remediation = rng:float() < 0.9 and "noRemediationRequired" or "unknown"
    local v = states:float()
    if v < 0.04 then remediation = "automaticRemediationRequired"
    elseif v < 0.06 then remediation = "manualRemediationRequired"
    elseif v < 0.07 then remediation = "unknownFutureValue" end
    d.remediationState = remediation
    if remediation ~= "unknown" then d.remediationStateLastModifiedDateTime = date_before(states, 400) end
    local w = states:float()
    d.userlessEnrollmentStatus = w < 0.06 and "blocked" or w < 0.09 and "unknown" or w < 0.1 and "unknownFutureValue"
      or "allowed"
    out[i] = d
  end
  return out
end

-- Intune's export columns, and what they fill in.
local COLUMNS = {
  ["device serial number"] = "serialNumber", ["windows product id"] = "productKey",
  ["hardware hash"] = "_hardwareHash", ["group tag"] = "groupTag", ["assigned user"] = "userPrincipalName",
  ["manufacturer name"] = "manufacturer", ["device model"] = "model",
}
local KNOWN = {}
for _, k in ipairs(M.V1_FIELDS) do KNOWN[k:lower()] = k end
for _, k in ipairs(M.BETA_FIELDS) do KNOWN[k:lower()] = k end

local function parse_csv(text)
  local rows, row, field, i, n, inq = {}, {}, {}, 1, #text, false
  while i <= n do
    local c = text:sub(i, i)
    if inq then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else inq = false end
      else
        field[#field + 1] = c
      end
    elseif c == '"' then inq = true
    elseif c == "," then row[#row + 1] = table.concat(field); field = {}
    elseif c == "\n" or c == "\r" then
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      row[#row + 1] = table.concat(field); field = {}
      if #row > 1 or row[1] ~= "" then rows[#rows + 1] = row end
      row = {}
    else
      field[#field + 1] = c
    end
    i = i + 1
  end
  if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); rows[#rows + 1] = row end
  return rows
end

local function from_records(records, seed)
  local rng = random.new(seed or 1, "file")
  local out = {}
  for i, rec in ipairs(records) do
    if type(rec) ~= "table" then return nil, "record " .. i .. " is not an object" end
    local d = M.blank(rng:guid())
    for k, v in pairs(rec) do
      local key = type(k) == "string" and (COLUMNS[k:lower()] or KNOWN[k:lower()])
      if key then
        if v == cjson.null or v == nil then v = "" end
        d[key] = tostring(v)
      end
    end
    if d.id == "" then d.id = rng:guid() end
    if d.userPrincipalName ~= "" and d.addressableUserName == "" then
      d.addressableUserName = d.userPrincipalName:match("^([^@]*)") or ""
    end
    if d.azureAdDeviceId == "" then d.azureAdDeviceId = d.azureActiveDirectoryDeviceId end
    out[i] = d
  end
  return out
end

--- Loads devices from text: a JSON array of objects, or CSV with a header row.
-- Columns/keys may be Intune's export names ("Device Serial Number", "Windows Product ID",
-- "Hardware Hash", "Group Tag", "Assigned User") or property names (any case); missing
-- properties take their empty values, a missing id a generated one.
-- @tparam string text the file's contents
-- @tparam[opt] integer seed for generated ids
-- @treturn[1] table array of device records
-- @return[2] nil
-- @treturn[2] string what is wrong
function M.parse(text, seed)
  local first = text:match("^%s*(.)")
  if first == "[" then
    local records, err = cjson.decode(text)
    if type(records) ~= "table" then return nil, "devices file: invalid JSON: " .. tostring(err) end
    return from_records(records, seed)
  end
  local rows = parse_csv(text:gsub("^\239\187\191", ""))
  if #rows < 1 then return nil, "devices file: empty" end
  local header, records = rows[1], {}
  for r = 2, #rows do
    local rec = {}
    for c, name in ipairs(header) do rec[name] = rows[r][c] or "" end
    records[#records + 1] = rec
  end
  return from_records(records, seed)
end

--- Loads devices from a file (see `parse`).
-- @tparam string path
-- @tparam[opt] integer seed
-- @treturn[1] table array of device records
-- @return[2] nil
-- @treturn[2] string what is wrong
function M.load(path, seed)
  local f, err = io.open(path, "rb")
  if not f then return nil, "devices file: " .. tostring(err) end
  local text = f:read("a")
  f:close()
  return M.parse(text, seed)
end

return M
