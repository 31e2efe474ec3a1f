--- Help texts and the man page, rendered from `autopilot.cli.commands` (pure functions returning text).
-- doc/autopilot.1 is `autopilot --man`; spec/cli_help_spec.lua fails when the file in the repo is stale.
-- @module autopilot.cli.help
local commands = require "autopilot.cli.commands"

local M = {}

local WIDTH = 112

-- Words of `text` filled into lines of at most `width` characters, each after `indent` spaces but the first.
local function fill(text, indent, width)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width - indent then
      lines[#lines + 1] = line
      line = word
    else
      line = line == "" and word or (line .. " " .. word)
    end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n" .. string.rep(" ", indent))
end

local function flag_rows(list)
  local out = {}
  for _, f in ipairs(list) do
    local left = "  " .. f[1] .. (f.value and (" " .. f.value) or "")
    local pad = math.max(1, 26 - #left)
    out[#out + 1] = left .. string.rep(" ", pad) .. fill(f.help, #left + pad, WIDTH)
  end
  return table.concat(out, "\n")
end

local function trailer()
  local env, exits = {}, {}
  for _, e in ipairs(commands.ENVIRONMENT) do
    env[#env + 1] = "  " .. e[1] .. "\n      " .. fill(e[2], 6, WIDTH)
  end
  for _, e in ipairs(commands.EXIT) do exits[#exits + 1] = string.format("  %-4d %s", e[1], e[2]) end
  return "environment (credentials are read from here only, never from arguments):\n" .. table.concat(env, "\n")
    .. "\n\nexit status:\n" .. table.concat(exits, "\n")
end

--- The usage text of `autopilot --help`.
-- @treturn string
function M.usage()
  local rows = {}
  for _, c in ipairs(commands.COMMANDS) do rows[#rows + 1] = string.format("  %-10s %s", c.name, c.summary) end
  return "usage: autopilot [OPTIONS] COMMAND [ARGS]\n\ncommands:\n" .. table.concat(rows, "\n")
    .. "\n\noptions (any command):\n" .. flag_rows(commands.GLOBAL)
    .. "\n\n'autopilot help COMMAND' shows a command's options.\n\n" .. trailer()
end

--- The help of one command (`autopilot help COMMAND`, `autopilot COMMAND --help`).
-- @tparam table c an entry of `commands.COMMANDS`
-- @treturn string
function M.command(c)
  local text = "usage: autopilot [OPTIONS] " .. c.name .. (c.args ~= "" and (" " .. c.args) or "") .. "\n\n"
    .. fill(c.description, 0, WIDTH)
  if #c.flags > 0 then text = text .. "\n\noptions:\n" .. flag_rows(c.flags) end
  return text .. "\n\nexit status:\n" .. (function()
    local rows = {}
    for _, e in ipairs(commands.EXIT) do rows[#rows + 1] = string.format("  %-4d %s", e[1], e[2]) end
    return table.concat(rows, "\n")
  end)()
end

-- Text escaped for troff: backslashes, and a leading dot or quote that would read as a request.
local function roff(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  if s:find("^[%.']") then s = "\\&" .. s end
  return s
end

local function man_flags(out, list)
  for _, f in ipairs(list) do
    out[#out + 1] = ".TP"
    out[#out + 1] = "\\fB" .. roff(f[1]) .. "\\fR" .. (f.value and (" \\fI" .. roff(f.value) .. "\\fR") or "")
    out[#out + 1] = roff(f.help)
  end
end

--- The man page, troff (man macros), as doc/autopilot.1 holds it.
-- @tparam string version the version line's text, e.g. "lua-autopilot 0.1.0"
-- @treturn string
function M.man(version)
  local out = {
    '.TH AUTOPILOT 1 "" "' .. roff(version) .. '" "User Commands"',
    ".SH NAME",
    "autopilot \\- find Windows Autopilot devices and change their assigned users through Microsoft Graph",
    ".SH SYNOPSIS",
    "\\fBautopilot\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
    ".SH DESCRIPTION",
    "Lists, shows, assigns, unassigns, updates and deletes Windows Autopilot device registrations, one "
      .. "device or many, paced to Intune's limits. Credentials come from the environment only.",
    ".SH OPTIONS",
  }
  man_flags(out, commands.GLOBAL)
  out[#out + 1] = ".SH COMMANDS"
  for _, c in ipairs(commands.COMMANDS) do
    out[#out + 1] = ".SS " .. c.name .. (c.args ~= "" and (" " .. roff(c.args)) or "")
    out[#out + 1] = roff(c.description)
    man_flags(out, c.flags)
  end
  out[#out + 1] = ".SH ENVIRONMENT"
  for _, e in ipairs(commands.ENVIRONMENT) do
    out[#out + 1] = ".TP"
    out[#out + 1] = "\\fB" .. roff(e[1]) .. "\\fR"
    out[#out + 1] = roff(e[2])
  end
  out[#out + 1] = ".SH EXIT STATUS"
  for _, e in ipairs(commands.EXIT) do
    out[#out + 1] = ".TP"
    out[#out + 1] = "\\fB" .. e[1] .. "\\fR"
    out[#out + 1] = roff(e[2])
  end
  return table.concat(out, "\n") .. "\n"
end

return M
