--- Library messages in the command line's words: option names become the flags or variables that set them.
-- @module autopilot.cli.messages
local M = {}

-- library wording -> what a user of the command line does instead (plain text, not patterns)
local WORDS = {
  { "sign in once with device_code = true", "run 'autopilot login'" },
  { "device_code = true (or a function), or a refresh_token", "'autopilot login'" },
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

--- Rewrite a message for the command line.
-- @param msg an error value or a string (`tostring` is applied)
-- @treturn string
function M.cli(msg)
  local s = tostring(msg)
  for _, w in ipairs(WORDS) do s = s:gsub(plain(w[1]), (w[2]:gsub("%%", "%%%%"))) end
  return s
end

return M
