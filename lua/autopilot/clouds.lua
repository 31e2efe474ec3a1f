--- National clouds: the Graph and login hosts of each (Microsoft Graph national cloud deployments).
-- Tokens do not cross clouds, so the `.default` scope always names the chosen cloud's own Graph host.
-- @module autopilot.clouds
local M = {
  global = { graph = "https://graph.microsoft.com", login = "https://login.microsoftonline.com" },
  usgov = { graph = "https://graph.microsoft.us", login = "https://login.microsoftonline.us" },
  dod = { graph = "https://dod-graph.microsoft.us", login = "https://login.microsoftonline.us" },
  china = { graph = "https://microsoftgraph.chinacloudapi.cn", login = "https://login.chinacloudapi.cn" },
}

--- The hosts of a cloud by name.
-- @tparam string name "global", "usgov", "dod" or "china"
-- @treturn[1] table `{ graph = url, login = url }`
-- @return[2] nil
-- @treturn[2] string the names that are known
function M.lookup(name)
  local c = rawget(M, name)
  if type(c) ~= "table" then
    return nil, "unknown cloud " .. string.format("%q", tostring(name)) .. " (global, usgov, dod, china)"
  end
  return c
end

--- Whether a Graph URL is one of Microsoft's clouds (whose own login host is then the right one to ask).
-- @tparam string url a Graph base URL
-- @treturn boolean
function M.is_microsoft_graph(url)
  url = url:gsub("/+$", ""):lower()
  for _, name in ipairs { "global", "usgov", "dod", "china" } do
    if M[name].graph == url then return true end
  end
  return false
end

return M
