--- Library messages in the command line's words: option names become the flags or variables that set them.
-- @module autopilot.cli.messages
local M = {}

-- library wording -> what a user of the command line does instead (plain text, not patterns)
local WORDS = {
  { "sign in once with device_code = true", "run 'autopilot login'" },
  { "device_code = true (or a function), or a refresh_token", "'autopilot login'" },
  { "give client_secret or certificate", "set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH" },
  { "sign in with device_code, without a secret or certificate",
    "sign in with 'autopilot login', without AZURE_CLIENT_SECRET or a certificate" },
  { "check `cloud`", "check --cloud" },
  { "check client_id", "check AZURE_CLIENT_ID" },
  { "sign in again and enter", "run 'autopilot login' again and enter" },
  { "sign in again with a new code", "run 'autopilot login' again" },
  { "run again and approve it", "run 'autopilot login' again and approve it" },
  { ": sign in again", ": run 'autopilot login' again" },
  { "graph_url", "--graph-url" },
  { "login_url", "--login-url" },
  { "api_version", "the API version" },
  { "(or AZURE_TENANT_ID)", "(AZURE_TENANT_ID)" },
  { "(or AZURE_CLIENT_ID)", "(AZURE_CLIENT_ID)" },
  { "tenant must be", "the tenant (AZURE_TENANT_ID or --tenant) must be" },
  { "access_token must be", "AUTOPILOT_ACCESS_TOKEN must be" },
}

local function plain(s)
  return (s:gsub("%p", "%%%0"))
end

--- Rewrite a message for the command line, without the library's `autopilot: ` prefix (every caller prints
-- its own, so `autopilot: autopilot: ...` never shows).
-- @param msg an error value or a string (`tostring` is applied)
-- @treturn string
function M.cli(msg)
  local s = tostring(msg):gsub("^autopilot: ", "")
  for _, w in ipairs(WORDS) do s = s:gsub(plain(w[1]), (w[2]:gsub("%%", "%%%%"))) end
  return s
end

return M
