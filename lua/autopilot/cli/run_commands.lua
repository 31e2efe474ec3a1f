--- The commands that change many devices in one paced run: bulk (unassign) and undo (assign back).
-- Both plan first when a confirmation may be needed, print one line per device on a dry run, and share
-- the report, JSON and exit status handling. Same shape as `autopilot.cli.device_commands`.
--
-- Once the writes are about to start (after any confirmation, so that Ctrl-C at the question or during the
-- planning still ends the process at once), SIGINT and SIGTERM are caught (`core.catch_signals`): the run
-- then stops sending, lets the writes in flight finish, prints the summary, writes the report and exits 130
-- or 143. A second signal ends the process at once; the journal stays valid either way.
-- @module autopilot.cli.run_commands
local args = require "autopilot.cli.args"
local prompt = require "autopilot.cli.prompt"
local messages = require "autopilot.cli.messages"
local commands = require "autopilot.cli.commands"
local json = require "autopilot.json"
local core = require "autopilot.core"
local progress = require "autopilot.bulk.progress"

local M = {}

local FILTER_KEYS = { "serial", "group_tag", "model", "user", "filter" }
M.DEFAULT_CONFIRM_ABOVE = 10

local function fail(err)
  io.stderr:write("autopilot: ", messages.cli(err), "\n")
  return commands.FAILED
end

local function query_of(flags)
  local q, any = {}, false
  for _, k in ipairs(FILTER_KEYS) do
    q[k] = flags[k]
    any = any or flags[k] ~= nil
  end
  return any and q or nil
end

-- The checked numbers of the run flags, or nil and the usage message.
local function numbers(flags)
  local concurrency, cerr = args.integer(flags.concurrency, "--concurrency", 1, 1024)
  if cerr then return nil, cerr end
  local above, aerr = args.integer(flags.confirm_above, "--confirm-above", 0, math.maxinteger)
  if aerr then return nil, aerr end
  return { concurrency = concurrency, confirm_above = above or M.DEFAULT_CONFIRM_ABOVE }
end

--- Whether a report is "all done": every target found and settled, nothing failed or unverified, the run
-- not stopped early (e.g. its journal could no longer be written).
-- @tparam table report
-- @treturn boolean
function M.all_done(report)
  if report.failed > 0 or report.error then return false end
  for _, r in ipairs(report.results) do
    if r.outcome == "unknown" or r.outcome == "ambiguous" or r.verified == false then return false end
  end
  return true
end

local function would_change(report)
  local n = 0
  for _, r in ipairs(report.results) do
    if tostring(r.outcome):find("^would_") then n = n + 1 end
  end
  return n
end

--- The `stop` function of a run: the pending signal's name, told once on stderr (clearing a progress bar's
-- line first) so that the administrator knows the run is winding down and how to end it at once.
-- @treturn function returning "SIGINT", "SIGTERM" or nil
function M.stop_on_signal()
  local told = false
  return function()
    local signal = core.pending_signal()
    if signal and not told then
      told = true
      io.stderr:write(progress.stderr_is_terminal() and "\r\27[K" or "", "autopilot: ", signal,
        ": no new writes; finishing those in flight (", signal == "SIGINT" and "Ctrl-C" or "the signal",
        " again stops at once)\n")
    end
    return signal
  end
end

-- Runs `call(opts)` (the client's bulk method) with the flags: a planning pass and a question first when
-- more than --confirm-above devices would change, then the run, then the report and the summary.
local function run(call, flags, n, verb)
  local opts = { dry_run = flags.dry_run or false, verify = flags.verify or false, batch = flags.batch or false,
                 concurrency = n.concurrency, progress = (flags.dry_run or flags.json) and false or "auto" }
  if flags.force then opts.force = true end
  if flags.journal and verb == "unassign" then opts.journal = flags.journal end
  if not flags.dry_run and not flags.yes then
    local plan_opts = {}
    for k, v in pairs(opts) do plan_opts[k] = v end
    plan_opts.dry_run, plan_opts.progress, plan_opts.verify = true, false, false
    local plan, perr = call(plan_opts)
    if not plan then return fail(perr) end
    local count = would_change(plan)
    if count > n.confirm_above then
      local ok, why = prompt.approve(string.format("%s %d devices?", verb == "unassign"
        and "Unassign the users of" or "Assign the previous users back to", count), false)
      if not ok then
        io.stderr:write("autopilot: ", count, " devices would change (more than --confirm-above ",
          n.confirm_above, "); ", why, "\n")
        return commands.USAGE
      end
    end
  end
  if not flags.dry_run then
    local caught, cerr = core.catch_signals()
    if not caught then return fail(cerr) end
    opts.stop = M.stop_on_signal()
  end
  local report, err = call(opts)
  local signal = core.pending_signal()
  if not report then
    fail(err)
    return signal and commands.SIGNALLED[signal] or commands.FAILED
  end
  local summary_out = io.stdout
  if flags.json then
    for _, r in ipairs(report.results) do io.stdout:write(json.encode(r), "\n") end
    summary_out = io.stderr
  elseif flags.dry_run then
    -- the report's own lines (`autopilot.bulk.report.result_line`): whose assignment each write changes
    for _, line in ipairs(report:lines()) do print(line) end
  end
  summary_out:write(report:summary(), "\n")
  if flags.report then
    local write = flags.report:find("%.jsonl$") and report.write_jsonl or report.write_csv
    local ok, werr = write(report, flags.report)
    if not ok then return fail(werr) end
    summary_out:write("report: ", flags.report, "\n")
  end
  if report.interrupted then
    io.stderr:write("autopilot: interrupted by ", tostring(report.interrupted_by or signal), "; ",
      report.counts.not_attempted or 0, " devices not attempted",
      "; the same command again finishes them", (verb == "unassign" and not flags.journal)
        and " (--journal FILE makes a run resumable)\n" or "\n")
  end
  if signal then return commands.SIGNALLED[signal] end
  return M.all_done(report) and commands.OK or commands.FAILED
end

M.bulk = {
  check = function(flags, words)
    local q = query_of(flags)
    if #words == 1 and q then
      -- filters cannot narrow a CSV: refuse rather than unassign every row
      return nil, "bulk takes a CSV file or filters such as --group-tag, not both"
    elseif #words > 1 or (#words == 0 and not q) then
      return nil, "bulk takes one CSV file, or filters such as --group-tag"
    end
    local _, err = numbers(flags)
    if err then return nil, err end
    return true
  end,
  run = function(client, flags, words)
    local targets = words[1] and { csv = words[1] } or query_of(flags)
    return run(function(opts) return client:unassign_users(targets, opts) end, flags, numbers(flags), "unassign")
  end,
}

M.undo = {
  check = function(flags, words)
    if #words > 0 then return nil, "undo takes --journal FILE, not '" .. words[1] .. "'" end
    if not flags.journal then return nil, "undo needs --journal FILE (the journal of the run to undo)" end
    local _, err = numbers(flags)
    if err then return nil, err end
    return true
  end,
  run = function(client, flags)
    return run(function(opts) return client:restore(flags.journal, opts) end, flags, numbers(flags), "restore")
  end,
}

return M
