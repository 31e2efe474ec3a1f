--- The command line's entry point: parse, help, connect, dispatch; returns the exit status.
-- bin/autopilot is `os.exit(require("autopilot.cli.main").run(arg))`.
-- @module autopilot.cli.main
local autopilot = require "autopilot"
local core = require "autopilot.core"
local args = require "autopilot.cli.args"
local help = require "autopilot.cli.help"
local commands = require "autopilot.cli.commands"
local session = require "autopilot.cli.session"
local messages = require "autopilot.cli.messages"
local trace = require "autopilot.cli.trace"

local M = {}

local HANDLERS = {}
for _, mod in ipairs { "autopilot.cli.device_commands", "autopilot.cli.run_commands",
                       "autopilot.cli.login_commands" } do
  for name, h in pairs(require(mod)) do
    if type(h) == "table" and h.run then HANDLERS[name] = h end
  end
end

HANDLERS.help = {
  connect = false,
  check = function(_, words)
    if #words > 1 then return nil, "help takes one command name" end
    if words[1] and not commands.find(words[1]) then return nil, "unknown command '" .. words[1] .. "'" end
    return true
  end,
  run = function(_, _, words)
    print(words[1] and help.command(commands.find(words[1])) or help.usage())
    return commands.OK
  end,
}

for _, c in ipairs(commands.COMMANDS) do assert(HANDLERS[c.name], "no handler for command " .. c.name) end

--- The version line of `--version`.
-- @treturn string
function M.version()
  return "autopilot (" .. autopilot._VERSION .. ", libcurl " .. core.curl_version .. ")"
end

local function usage_error(msg)
  io.stderr:write("autopilot: ", msg, "\n", "try 'autopilot --help'\n")
  return commands.USAGE
end

--- Run the command line.
-- @tparam table argv the arguments (`arg`)
-- @treturn integer the exit status (see `autopilot.cli.commands.EXIT`)
function M.run(argv)
  local parsed, perr = args.parse(argv)
  if not parsed then return usage_error(perr) end
  local flags, words, command = parsed.flags, parsed.words, parsed.command
  if flags.version then
    print(M.version())
    return commands.OK
  elseif flags.man then
    io.stdout:write(help.man(autopilot._VERSION))
    return commands.OK
  elseif flags.help then
    print(command and help.command(command) or help.usage())
    return commands.OK
  end
  if not command then return usage_error("no command") end
  local h = HANDLERS[command.name]
  local ok, cerr = h.check(flags, words)
  if not ok then return usage_error(cerr) end
  if h.connect == false then return h.run(nil, flags, words) end

  local opts, oerr, status = session.options(flags, { login = h.on_device_code })
  if not opts then
    io.stderr:write("autopilot: ", oerr, "\n")
    return status
  end
  if h.prepare then
    local pok, prerr = h.prepare()
    if not pok then
      io.stderr:write("autopilot: ", prerr, "\n")
      return commands.FAILED
    end
  end
  local client, err = autopilot.connect(opts)
  if not client then
    io.stderr:write("autopilot: ", messages.cli(err), "\n")
    return commands.FAILED
  end
  if flags.verbose then trace.attach(client) end
  local result = h.run(client, flags, words)
  client:close()
  return result
end

return M
