--- login (device code sign-in kept in the token cache) and logout (the cache deleted).
-- Same shape as `autopilot.cli.device_commands`; `connect = false` marks a command that needs no client.
-- @module autopilot.cli.login_commands
local session = require "autopilot.cli.session"
local messages = require "autopilot.cli.messages"
local commands = require "autopilot.cli.commands"

local M = {}

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function no_words(name)
  return function(_, words)
    if #words > 0 then return nil, name .. " takes no arguments, got '" .. words[1] .. "'" end
    return true
  end
end

--- What login shows while it waits: where to go and the code to enter (never a token).
-- @tparam table info the device code reply (`verification_uri`, `user_code`, `expires_in`)
-- @treturn string
function M.instructions(info)
  return string.format("To sign in, open %s and enter the code %s (valid %d minutes).", info.verification_uri,
    info.user_code, math.floor((tonumber(info.expires_in) or 900) / 60))
end

M.login = {
  check = no_words("login"),
  -- the device code callback is given to `autopilot.cli.session.options` by the dispatcher
  on_device_code = function(info)
    io.stdout:write(M.instructions(info), "\n")
    io.stdout:flush()
  end,
  prepare = function()
    local _, dir = session.token_cache_path()
    -- the cache's directory must exist; private, as the refresh tokens in it are
    if dir and not os.execute("mkdir -p -m 700 " .. quote(dir)) then
      return nil, "cannot create the token cache directory " .. dir
    end
    return true
  end,
  run = function(client)
    -- one small read makes the sign-in happen now and proves the token works
    local _, err = client:request("GET", "/deviceManagement/windowsAutopilotDeviceIdentities?$top=1")
    if err then
      io.stderr:write("autopilot: ", messages.cli(err), "\n")
      return commands.FAILED
    end
    local info = client:token_info()
    print("signed in" .. (info.user and (" as " .. info.user) or "") .. "; kept in " .. tostring(info.token_cache))
    return commands.OK
  end,
}

M.logout = {
  check = no_words("logout"),
  connect = false,
  run = function()
    local path = session.token_cache_path()
    if not path then
      io.stderr:write("autopilot: no token cache (set AUTOPILOT_TOKEN_CACHE or HOME)\n")
      return commands.FAILED
    end
    local ok, err = os.remove(path)
    if ok then
      print("signed out: deleted " .. path)
    elseif not tostring(err):find("No such file", 1, true) then
      io.stderr:write("autopilot: cannot delete ", path, ": ", tostring(err), "\n")
      return commands.FAILED
    else
      print("not signed in: no " .. path)
    end
    return commands.OK
  end,
}

return M
