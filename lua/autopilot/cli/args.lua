--- Parsing the command line against `autopilot.cli.commands`: a pure function, nothing printed or sent.
-- Flags may come before or after the command (`--graph-url U list` and `list --graph-url U`); `--flag=value`
-- and `--flag value` are the same; `--` ends the flags.
-- @module autopilot.cli.args
local commands = require "autopilot.cli.commands"

local M = {}

-- Every flag name -> whether it takes a value, over all commands: the first pass must skip a value before
-- it knows the command, so a name must take a value in every command or in none.
local TAKES_VALUE = {}
local function note(f)
  local takes = f.value ~= nil
  assert(TAKES_VALUE[f[1]] == nil or TAKES_VALUE[f[1]] == takes, f[1] .. " takes a value in one command only")
  TAKES_VALUE[f[1]] = takes
end
for _, f in ipairs(commands.GLOBAL) do note(f) end
for _, c in ipairs(commands.COMMANDS) do
  for _, f in ipairs(c.flags) do note(f) end
end

local function flag_of(list, name)
  for _, f in ipairs(list) do
    if f[1] == name then return f end
  end
  return nil
end

-- Splits argv into flags (name, value, position) and words; nil and a message for a malformed flag.
local function split(argv)
  local flags, words = {}, {}
  local i, rest = 1, false
  while i <= #argv do
    local a = argv[i]
    if rest or a == "-" or a:sub(1, 1) ~= "-" then
      words[#words + 1] = a
    elseif a == "--" then
      rest = true
    else
      local name, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
      name = name or a
      local takes = TAKES_VALUE[name]
      if takes == nil then return nil, "unknown option " .. name end
      local value = true
      if takes then
        value = inline
        if value == nil then
          i = i + 1
          value = argv[i]
        end
        if value == nil then return nil, name .. " needs a value" end
      elseif inline then
        return nil, name .. " takes no value"
      end
      flags[#flags + 1] = { name = name, value = value }
    end
    i = i + 1
  end
  return flags, words
end

--- Parse the arguments.
-- @tparam table argv the words after the program name
-- @treturn[1] table `{ command = entry of commands.COMMANDS or nil, flags = { key = value }, words = {...} }`
--   (`flags` values are strings for valued flags, true for switches; `words` excludes the command name)
-- @return[2] nil
-- @treturn[2] string a usage message naming the offending word (exit status 2)
function M.parse(argv)
  local list, words = split(argv)
  if not list then return nil, words end
  local command
  if words[1] then
    command = commands.find(words[1])
    if not command then return nil, "unknown command '" .. words[1] .. "'" end
    table.remove(words, 1)
  end
  local flags = {}
  for _, f in ipairs(list) do
    local def = flag_of(commands.GLOBAL, f.name) or (command and flag_of(command.flags, f.name))
    if not def then
      if not command then return nil, f.name .. " belongs after a command (see autopilot help)" end
      return nil, f.name .. " is not an option of '" .. command.name .. "' (see autopilot help " .. command.name .. ")"
    end
    if flags[def.key] ~= nil and def.value then return nil, f.name .. " given twice" end
    flags[def.key] = f.value
  end
  return { command = command, flags = flags, words = words }
end

--- A whole number from a flag's text within bounds.
-- @tparam string|nil text the flag's value
-- @tparam string name the flag, for the message
-- @tparam integer min
-- @tparam integer max
-- @treturn[1] integer|nil the number (nil when the flag was not given)
-- @return[2] nil
-- @treturn[2] string the usage message
function M.integer(text, name, min, max)
  if text == nil then return nil end
  local n = math.tointeger(tonumber(text))
  if not n or n < min or n > max then
    return nil, string.format("%s needs a whole number from %d to %d, got '%s'", name, min, max, text)
  end
  return n
end

return M
