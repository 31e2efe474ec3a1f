--- The command line's one description: every command, flag, environment variable and exit status.
-- Parsing (`autopilot.cli.args`), `--help`, `help COMMAND` and the man page (`autopilot.cli.help`) are all
-- read from these tables, so they cannot disagree.
-- @module autopilot.cli.commands
local M = {}

--- Flags every command takes. A flag is `{ name, key =, value = "METAVAR" (nil for a switch), help = }`.
M.GLOBAL = {
  { "--graph-url", key = "graph_url", value = "URL",
    help = "Graph base URL without a version (default: the cloud's; the emulator's URL to rehearse); a host "
      .. "other than Microsoft's needs --login-url too, so credentials never go to the real login host" },
  { "--login-url", key = "login_url", value = "URL", help = "identity platform base URL (default: the cloud's)" },
  { "--cloud", key = "cloud", value = "NAME", help = "global (default), usgov, dod or china" },
  { "--tenant", key = "tenant", value = "TENANT", help = "the tenant, a GUID or a domain name (default: "
      .. "AZURE_TENANT_ID; for login, else organizations)" },
  { "--beta", key = "beta", help = "use Graph's beta API version instead of v1.0" },
  { "--max-retries", key = "max_retries", value = "N", help = "retries of a request that failed in a way "
      .. "that may heal (refused connection, timeout, 429, 5xx) before giving up, 0 to 100 (default 6); each "
      .. "retry is announced on stderr" },
  { "-v", key = "verbose", help = "trace every Graph request on stderr: method, URL, status, request-id, "
      .. "elapsed time (never a token)" },
  { "-h", key = "help", help = "help (of the command, when one is given)" },
  { "--help", key = "help", help = "the same as -h" },
  { "--version", key = "version", help = "print the version and exit" },
  { "--man", key = "man", help = "print the man page (troff) and exit" },
}

local FILTERS = {
  { "--serial", key = "serial", value = "SERIAL", help = "devices with this serial number (exact, trimmed)" },
  { "--group-tag", key = "group_tag", value = "TAG", help = "devices with this group tag (case ignored)" },
  { "--model", key = "model", value = "MODEL", help = "devices of this model (case ignored)" },
  { "--user", key = "user", value = "UPN", help = "devices assigned to this user principal name" },
  { "--filter", key = "filter", value = "ODATA", help = "a raw OData $filter, sent as is" },
}

local SERIAL = { "--serial", key = "serial", value = "SERIAL",
  help = "the device with this serial number instead of an id (exit 1 when none or several have it)" }
local YES = { "--yes", key = "yes", help = "do not ask for confirmation" }
local DRY_RUN = { "--dry-run", key = "dry_run", help = "plan and print one line per device; send no write" }
local RUN_FLAGS = {
  DRY_RUN,
  YES,
  { "--confirm-above", key = "confirm_above", value = "N",
    help = "ask for confirmation when more than N devices would change (default 10)" },
  { "--verify", key = "verify", help = "read each device back until the change shows" },
  { "--batch", key = "batch", help = "send the writes as Graph $batch requests of 20" },
  { "--concurrency", key = "concurrency", value = "N", help = "requests in flight at most (1 to 1024)" },
  { "--report", key = "report", value = "FILE", help = "write a report: CSV, or JSON lines when FILE ends "
      .. "in .jsonl" },
  { "--json", key = "json", help = "print each device's result as a JSON line on stdout (summary on stderr)" },
}

local function concat(...)
  local out = {}
  for _, list in ipairs { ... } do
    for _, f in ipairs(list) do out[#out + 1] = f end
  end
  return out
end

--- The commands, in the order help lists them. `args` is the synopsis after the name.
M.COMMANDS = {
  { name = "list", args = "[FILTERS]", summary = "list devices",
    description = "Lists the matching devices (all of them without a filter), as a table by default.",
    flags = concat(FILTERS, {
      { "--top", key = "top", value = "N", help = "at most N devices" },
      { "--output", key = "output", value = "FORMAT", help = "table (default), csv, json or jsonl" },
      { "--columns", key = "columns", value = "LIST", help = "comma-separated Graph property names "
          .. "(default: id,serialNumber,userPrincipalName,groupTag,model)" },
      { "--json", key = "json", help = "the same as --output jsonl" },
    }) },
  { name = "show", args = "ID | --serial SERIAL", summary = "show one device",
    description = "Prints every property of one device.",
    flags = { SERIAL, { "--json", key = "json", help = "print the device as one JSON object" } } },
  { name = "unassign", args = "ID... | --serial SERIAL", summary = "take the assigned user off devices",
    description = "Sends one unassignUserFromDevice per device; prints one line per device.",
    flags = { SERIAL } },
  { name = "assign", args = "ID | --serial SERIAL --upn UPN [--user-name NAME]",
    summary = "assign a user to a device",
    description = "Sends assignUserToDevice with the user principal name and the name shown at sign-in.",
    flags = { SERIAL,
      { "--upn", key = "upn", value = "UPN", help = "the user principal name to assign (required)" },
      { "--user-name", key = "user_name", value = "NAME", help = "the name shown at sign-in (default: the UPN)" },
    } },
  { name = "set", args = "ID | --serial SERIAL [--group-tag TAG] [--display-name NAME]",
    summary = "change a device's group tag or display name",
    description = "Sends updateDeviceProperties with the properties given (at least one).",
    flags = { SERIAL,
      { "--group-tag", key = "group_tag", value = "TAG", help = "the new group tag (an empty one clears it)" },
      { "--display-name", key = "display_name", value = "NAME", help = "the new display name" },
    } },
  { name = "delete", args = "ID | --serial SERIAL [--yes]", summary = "delete a device's Autopilot registration",
    description = "Asks for confirmation on the terminal; without a terminal, refuses unless --yes is given.",
    flags = { SERIAL, YES } },
  { name = "bulk", args = "CSV | FILTERS", summary = "unassign many devices at the service's limit",
    description = "Takes a CSV file of serials or ids (Intune's export works), or filters. Writes are paced "
      .. "to Intune's limit and retried; with --journal a stopped run resumes where it stopped. Asks for "
      .. "confirmation when more than --confirm-above devices would change.",
    flags = concat(FILTERS, RUN_FLAGS, {
      { "--journal", key = "journal", value = "FILE", help = "record each outcome; a run started again with "
          .. "the same journal skips the devices already done (undo reads it)" },
      { "--force", key = "force", help = "also send for devices that show no assigned user" },
    }) },
  { name = "undo", args = "--journal FILE", summary = "assign the previous users back after a bulk run",
    description = "Reads a bulk run's journal (or report) and assigns each device's previous user back, "
      .. "skipping devices whose user changed since.",
    flags = concat({ { "--journal", key = "journal", value = "FILE", help = "the journal of the run to undo "
      .. "(required)" } }, RUN_FLAGS) },
  { name = "login", args = "", summary = "sign in with a device code and keep the sign-in",
    description = "Prints a URL and a code to enter there, waits for the sign-in, and keeps a refresh token "
      .. "in the token cache (AUTOPILOT_TOKEN_CACHE) so that later commands sign in silently when no "
      .. "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AUTOPILOT_ACCESS_TOKEN is set. Give the same "
      .. "AZURE_TENANT_ID (or --tenant) and AZURE_CLIENT_ID to later commands.",
    flags = {} },
  { name = "logout", args = "", summary = "forget every sign-in kept by login",
    description = "Deletes the token cache file.", flags = {} },
  { name = "help", args = "[COMMAND]", summary = "help, or a command's help", flags = {},
    description = "Prints the usage, or one command's flags." },
}

--- Environment variables: `{ name, help }`.
M.ENVIRONMENT = {
  { "AZURE_TENANT_ID", "the tenant (a GUID or a domain name)" },
  { "AZURE_CLIENT_ID", "the app registration's client id" },
  { "AZURE_CLIENT_SECRET", "the app's client secret" },
  { "AZURE_CLIENT_CERTIFICATE_PATH", "a PEM file with the app's certificate and key (instead of a secret); "
      .. "AZURE_CLIENT_CERTIFICATE_PASSWORD its passphrase" },
  { "AZURE_AUTHORITY_HOST", "the login host (picks the cloud when it is a known one)" },
  { "AUTOPILOT_ACCESS_TOKEN", "a Graph access token to use as is" },
  { "AUTOPILOT_GRAPH_URL", "the Graph base URL, as --graph-url (the flag wins)" },
  { "AUTOPILOT_LOGIN_URL", "the login base URL, as --login-url (the flag wins)" },
  { "AUTOPILOT_TOKEN_CACHE", "the token cache file of login (default: $XDG_CACHE_HOME/lua-autopilot/"
      .. "tokens.json, else ~/.cache/lua-autopilot/tokens.json)" },
}

--- Exit statuses: `{ code, help }`.
M.EXIT = {
  { 0, "done: every device settled" },
  { 1, "a device failed, was not found, was ambiguous or not verified, or the service refused or could not be "
      .. "reached (after --max-retries retries)" },
  { 2, "usage error: an unknown command or option, a bad value, a refused confirmation; nothing was sent" },
  { 130, "interrupted (SIGINT): bulk and undo stop sending, finish the writes in flight, print the summary "
      .. "and write the report; a second signal stops at once" },
  { 143, "terminated (SIGTERM), as for SIGINT" },
}

--- Exit status names used by the commands.
M.OK, M.FAILED, M.USAGE = 0, 1, 2

--- The exit status of a run stopped by a signal (128 + its number, as a shell reports a killed process).
M.SIGNALLED = { SIGINT = 130, SIGTERM = 143 }

--- The command named `name`, or nil.
-- @tparam string name
-- @treturn table|nil
function M.find(name)
  for _, c in ipairs(M.COMMANDS) do
    if c.name == name then return c end
  end
  return nil
end

return M
