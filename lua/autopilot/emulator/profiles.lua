--- The tenant's Windows Autopilot deployment profiles (beta's windowsAutopilotDeploymentProfile):
-- a small, fixed-size set generated from the seed, rendered once (they never change), and looked up
-- by id in constant time. Devices name theirs in `_profile` (assigned now: `deploymentProfile`) and
-- `_intended` (what group assignment asks for: `intendedDeploymentProfile`); see the generator.
-- Properties are those of Microsoft's beta resource page (deprecated ones kept, as the service still
-- sends them) with the two concrete types the service answers with: Microsoft Entra joined
-- (azureADWindowsAutopilotDeploymentProfile) and hybrid joined
-- (activeDirectoryWindowsAutopilotDeploymentProfile, which adds hybridAzureADJoinSkipConnectivityCheck).
-- @module autopilot.emulator.profiles
local cjson = require("cjson.safe").new()
local random = require "autopilot.emulator.random"

local M = {}

--- How many profiles every tenant has (a fixed number keeps the generator's draws stable).
M.COUNT = 4

-- name, type, device type, user type, usage, pre-provisioning, name template, language
local KINDS = {
  { "Corporate laptops", "azureAD", "windowsPc", "standard", "singleUser", true, "CONTOSO-%RAND:7%", "os-default" },
  { "Shared kiosks", "azureAD", "windowsPc", "standard", "shared", false, "KIOSK-%SERIAL%", "en-US" },
  { "Hybrid joined desktops", "activeDirectory", "windowsPc", "administrator", "singleUser", true, "", "en-GB" },
  { "Meeting rooms", "azureAD", "surfaceHub2S", "standard", "shared", false, "", "os-default" },
}

local EPOCH_2026 = 1767225600 -- 2026-01-01T00:00:00Z

local function stamp(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

local function build(rng, kind)
  local created = EPOCH_2026 - rng:int(200, 900) * 86400
  local modified = created + rng:int(0, 150) * 86400
  local name, typ, device_type, user_type, usage, prepro, template, lang = table.unpack(kind)
  local hidden = rng:float() < 0.7
  local p = {
    ["@odata.type"] = "#microsoft.graph." .. typ .. "WindowsAutopilotDeploymentProfile",
    id = rng:guid(),
    displayName = name,
    description = name .. " (Windows Autopilot)",
    language = lang,
    locale = lang,
    createdDateTime = stamp(created),
    lastModifiedDateTime = stamp(modified),
    outOfBoxExperienceSettings = {
      hidePrivacySettings = hidden, hideEULA = true, userType = user_type, deviceUsageType = usage,
      skipKeyboardSelectionPage = lang ~= "os-default", hideEscapeLink = true,
    },
    outOfBoxExperienceSetting = {
      privacySettingsHidden = hidden, eulaHidden = true, userType = user_type, deviceUsageType = usage,
      keyboardSelectionPageSkipped = lang ~= "os-default", escapeLinkHidden = true,
    },
    enrollmentStatusScreenSettings = cjson.null,
    extractHardwareHash = rng:float() < 0.5,
    deviceNameTemplate = template,
    deviceType = device_type,
    enableWhiteGlove = prepro,
    preprovisioningAllowed = prepro,
    roleScopeTagIds = { "0" },
    managementServiceAppId = cjson.null,
  }
  p.hardwareHashExtractionEnabled = p.extractHardwareHash
  if typ == "activeDirectory" then p.hybridAzureADJoinSkipConnectivityCheck = false end
  return p
end

-- Properties in the order of the resource page (the type's own last), for stable JSON text.
local ORDER = { "@odata.type", "id", "displayName", "description", "language", "locale", "createdDateTime",
  "lastModifiedDateTime", "outOfBoxExperienceSettings", "outOfBoxExperienceSetting", "enrollmentStatusScreenSettings",
  "extractHardwareHash", "hardwareHashExtractionEnabled", "deviceNameTemplate", "deviceType", "enableWhiteGlove",
  "preprovisioningAllowed", "roleScopeTagIds", "managementServiceAppId", "hybridAzureADJoinSkipConnectivityCheck" }

local function render(p)
  local parts = {}
  for _, k in ipairs(ORDER) do
    local v = p[k]
    if v ~= nil then parts[#parts + 1] = cjson.encode(k) .. ":" .. cjson.encode(v) end
  end
  return "{" .. table.concat(parts, ","):gsub("\\/", "/") .. "}"
end

--- The profile ids of a seed, in order (what the generator assigns devices to).
-- @tparam[opt=1] integer seed
-- @treturn table array of `COUNT` GUID strings
function M.ids(seed)
  local out = {}
  for i, p in ipairs(M.generate(seed)) do out[i] = p.id end
  return out
end

--- The profiles of a seed: always the same ones for the same seed.
-- @tparam[opt=1] integer seed
-- @treturn table array of profile objects (property -> value; JSON null as cjson.null)
function M.generate(seed)
  local rng = random.new(seed or 1, "profiles")
  local out = {}
  for i, kind in ipairs(KINDS) do out[i] = build(rng, kind) end
  return out
end

local Set = {}
Set.__index = Set

--- The tenant's set of profiles, with each one's JSON text made once.
-- @tparam[opt=1] integer seed
-- @treturn table the set: `list` (array), `by_id` (id -> profile), `json` (id -> JSON object text)
function M.new(seed)
  local self = setmetatable({ list = M.generate(seed), by_id = {}, json = {} }, Set)
  for _, p in ipairs(self.list) do
    self.by_id[p.id] = p
    self.json[p.id] = render(p)
  end
  return self
end

--- A profile's JSON object text.
-- @tparam string|nil id
-- @treturn string|nil the text, or nil for no id or an unknown one (ids match in any case)
function Set:text(id)
  if not id then return nil end
  return self.json[id] or self.json[id:lower()]
end

return M
