--- bin/autopilot as a child process for the spec/cli_*_spec.lua files: a clean environment holding only
-- the credentials given, the emulator's URLs as flags, and stdin either empty or a pseudo-terminal (script(1))
-- fed with an answer.
local shell = require "shell"
local files = require "files"
local paths = require "paths"

local q = shell.quote

local M = {}

--- The environment assignments of the emulator's default app (client secret).
-- @tparam table emu
-- @treturn string
function M.app_env(emu)
  return "AZURE_TENANT_ID=" .. q(emu.tenant) .. " AZURE_CLIENT_ID=" .. q(emu.client_id)
    .. " AZURE_CLIENT_SECRET=" .. q(emu.client_secret)
end

--- Run the CLI.
-- @tparam table emu a started emulator
-- @tparam string dir a temporary directory (stderr lands there)
-- @tparam string args the arguments, already quoted
-- @tparam[opt] table o `env` (assignments replacing the app's credentials), `urls = false` (no --graph-url /
--   --login-url flags), `tty` (a line typed on a pseudo-terminal: stdin is then a terminal; its output is
--   merged into stdout with CRLF line ends), `prefix` (shell commands run first), `lua_e` (a Lua chunk run
--   before the script, `lua5.4 -e`)
-- @treturn string stdout
-- @treturn string stderr (empty with `tty`: a terminal merges it into stdout)
-- @treturn integer the exit status
function M.run(emu, dir, args, o)
  o = o or {}
  local err = dir .. "/stderr"
  files.write(err, "")
  local urls = o.urls == false and "" or ("--graph-url " .. q(emu.url) .. " --login-url " .. q(emu.url) .. " ")
  local cmd = "env -u AUTOPILOT_ACCESS_TOKEN -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_CLIENT_SECRET "
    .. "-u AZURE_CLIENT_CERTIFICATE_PATH -u AZURE_AUTHORITY_HOST -u AUTOPILOT_GRAPH_URL -u AUTOPILOT_LOGIN_URL "
    .. "AUTOPILOT_TOKEN_CACHE=" .. q(dir .. "/tokens.json") .. " " .. paths.env() .. " "
    .. (o.env or M.app_env(emu)) .. " TERM=dumb lua5.4 " .. (o.lua_e and ("-e " .. q(o.lua_e) .. " ") or "")
    .. "bin/autopilot " .. urls .. args
  local line
  if o.tty then
    line = "printf '%s\\n' " .. q(o.tty) .. " | script -qec " .. q(cmd) .. " /dev/null"
  else
    line = cmd .. " 2>" .. q(err) .. " </dev/null"
  end
  local out, status = shell.run((o.prefix or "") .. line)
  return out, files.slurp(err), status
end

return M
