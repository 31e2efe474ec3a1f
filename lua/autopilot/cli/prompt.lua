--- Asking the operator before a destructive step: only on a terminal; without one, the caller refuses.
-- @module autopilot.cli.prompt
local M = {}

--- Whether standard input is a terminal (Lua has no isatty: the shell's `test -t 0` inherits our stdin).
-- @treturn boolean
function M.is_tty()
  return os.execute("test -t 0") == true
end

--- Ask a yes/no question on stderr and read the answer from stdin.
-- @tparam string question without the "[y/N]"
-- @treturn boolean true only for an answer starting with y or Y
function M.confirm(question)
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local answer = io.read("l")
  return answer ~= nil and answer:find("^%s*[yY]") ~= nil
end

--- Ask before changing `what`, unless `yes`; refuse without a terminal.
-- @tparam string question
-- @tparam boolean yes whether --yes was given
-- @treturn[1] true go ahead
-- @return[2] nil
-- @treturn[2] string why not (the caller exits 2: nothing was sent)
function M.approve(question, yes)
  if yes then return true end
  if not M.is_tty() then return nil, "not a terminal, so nobody can confirm: add --yes to go ahead" end
  if M.confirm(question) then return true end
  return nil, "not confirmed: nothing sent"
end

return M
