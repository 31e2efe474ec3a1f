--- The command line of `autopilot-emulator`: one table of switches drives parsing and `--help`, so a client
-- written in any language can set up what a spec in Lua can (apps, users, device-code approval, faults,
-- throttle) without writing a launcher.
-- @module autopilot.emulator.cli
local cjson = require("cjson.safe").new()
local faults_mod = require "autopilot.emulator.faults"
local throttle_mod = require "autopilot.emulator.throttle"

local M = {}

local WRITE = "DeviceManagementServiceConfig.ReadWrite.All"
local READ = "DeviceManagementServiceConfig.Read.All"
-- what the switches accept is what the models accept: their own tables, not copies
local FAULT_KINDS = {}
for _, k in ipairs(faults_mod.KINDS) do FAULT_KINDS[k] = true end
local THROTTLE_KEYS = { retry_after_extra = true }
for k in pairs(throttle_mod.DEFAULTS) do THROTTLE_KEYS[k] = true end

local function read_file(path, flag)
  local f, err = io.open(path, "rb")
  if not f then error(flag .. ": cannot read " .. tostring(err), 0) end
  local text = f:read("a")
  f:close()
  return text
end

local function number(flag, v, integer)
  local n = tonumber(v)
  if not n or n ~= n or n < 0 or n == math.huge or (integer and math.tointeger(n) == nil) then
    error(("%s expects a %snumber, got '%s'"):format(flag, integer and "non-negative whole " or "non-negative ",
      tostring(v)), 0)
  end
  return integer and math.tointeger(n) or n
end

-- "a=1,b,c=x;y": items split on commas, a key with no "=" is true; ";" separates list values.
local function items(flag, spec)
  local out = {}
  for item in spec:gmatch("[^,]+") do
    local k, v = item:match("^%s*([%w_-]+)%s*=%s*(.-)%s*$")
    if k then out[k] = v
    elseif item:match("^%s*[%w_-]+%s*$") then out[item:match("[%w_-]+")] = true
    else error(flag .. ": bad item '" .. item .. "'", 0) end
  end
  return out
end

local function list(v)
  local out = {}
  for s in tostring(v):gmatch("[^;]+") do out[#out + 1] = s end
  return out
end

local function only(flag, t, allowed)
  for k in pairs(t) do
    if not allowed[k] then error(flag .. ": unknown item '" .. k .. "' (see --help)", 0) end
  end
end

local function faults(flag, spec, opts)
  local f = opts.faults or {}
  for kind, rate in pairs(items(flag, spec)) do
    if not FAULT_KINDS[kind] then error(flag .. ": unknown kind '" .. kind .. "' (see --help)", 0) end
    local r = tonumber(rate)
    if not r or r < 0 or r > 1 then error(flag .. ": rate of " .. kind .. " must be between 0 and 1", 0) end
    f[kind] = r
  end
  opts.faults = f
end

local function fault_target(flag, spec, opts)
  local id, kinds = spec:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
  if not id or kinds == "" then error(flag .. " expects ID=KIND[+KIND...]", 0) end
  local seq = {}
  for k in kinds:gmatch("[^+]+") do
    if not FAULT_KINDS[k] then error(flag .. ": unknown kind '" .. k .. "' (see --help)", 0) end
    seq[#seq + 1] = k
  end
  local f = opts.faults or {}
  f.targets = f.targets or {}
  f.targets[id] = seq
  opts.faults = f
end

local function app(flag, spec, opts)
  local a = items(flag, spec)
  only(flag, a, { client_id = true, secret = true, cert = true, roles = true, scopes = true, ["read-only"] = true,
    public = true, name = true })
  if type(a.client_id) ~= "string" or a.client_id == "" then error(flag .. " needs client_id=ID", 0) end
  local out = { client_id = a.client_id, name = a.name ~= true and a.name or nil }
  if a.secret then out.client_secret = a.secret end
  if a.cert then out.certificate = read_file(a.cert, flag) end
  if not out.client_secret and not out.certificate and not a.public then
    error(flag .. ": an app needs secret=S, cert=FILE or public", 0)
  end
  if a["read-only"] then
    out.roles, out.delegated_scopes = { READ }, { READ, "User.Read" }
  else
    out.roles = a.roles and list(a.roles) or { WRITE }
    out.delegated_scopes = a.scopes and list(a.scopes) or { WRITE, READ, "User.Read" }
  end
  out.public = a.public and true or false
  opts.apps = opts.apps or {}
  opts.apps[#opts.apps + 1] = out
end

local function user(flag, spec, opts)
  local upn, rest = spec:match("^%s*([^,%s]+)%s*,?(.*)$")
  if not upn or not upn:find("@", 1, true) then error(flag .. " expects UPN[,scopes=A;B][,personal][,name=N]", 0) end
  local u = items(flag, rest)
  only(flag, u, { scopes = true, personal = true, name = true })
  opts.users = opts.users or {}
  opts.users[#opts.users + 1] = { upn = upn, scopes = u.scopes and list(u.scopes) or nil,
    personal = u.personal and true or nil, name = u.name ~= true and u.name or nil }
end

local function throttle_limits(flag, spec, opts)
  local t = type(opts.throttle) == "table" and opts.throttle or { enabled = true }
  local given = items(flag, spec)
  only(flag, given, THROTTLE_KEYS)
  for k, v in pairs(given) do t[k] = number(flag .. " " .. k, v, false) end
  opts.throttle = t
end

local function throttle_set(key, allowed, what)
  return function(flag, v, opts)
    if not allowed[v] then error(flag .. " must be " .. what, 0) end
    local t = type(opts.throttle) == "table" and opts.throttle or { enabled = true }
    t[key] = v
    opts.throttle = t
  end
end

local function device_code(key, kind)
  return function(flag, v, opts)
    local dc = opts.device_code or {}
    if kind == "int" then v = number(flag, v, true) end
    dc[key] = v
    opts.device_code = dc
  end
end

-- The switches, in --help order. kind: "string", "int", "number", "flag", "file" (its text), or a
-- function(flag, value, opts) for a switch that builds part of a table (repeatable).
M.SWITCHES = {
  { "--host", "host", "string", "ADDR", "address to listen on (default 127.0.0.1; loopback only)" },
  { "--port", "port", "int", "N", "port (default 0: a free one)" },
  { "--config", nil, "config", "F", "start options from a JSON file (any option of autopilot.emulator.start);"
    .. " switches after it override" },
  { "--devices", "devices", "int", "N", "number of generated devices (default 100)" },
  { "--seed", "seed", "int", "N", "generator and fault seed (default 1)" },
  { "--devices-file", "devices_file", "string", "F", "load devices from a JSON or CSV file instead" },
  { "--tenant", "tenant", "string", "ID", "the tenant id (GUID) of the emulated tenant" },
  { "--client-id", "client_id", "string", "ID", "the default app's client id" },
  { "--client-secret", "client_secret", "string", "S", "the default app's client secret" },
  { "--client-certificate", "client_certificate", "file", "F", "a PEM certificate the default app also accepts" },
  { "--register-app", nil, app, "SPEC", "another app, repeatable: client_id=ID plus any of secret=S, cert=F"
    .. " (PEM), roles=R;R, scopes=S;S (delegated), read-only, public, name=N" },
  { "--user", nil, user, "SPEC", "a user for delegated sign-in, repeatable: UPN[,scopes=S;S][,personal]"
    .. "[,name=N]" },
  { "--sign-in-user", nil, device_code("user"), "UPN", "who a device-code login signs in as" },
  { "--approve-after", nil, device_code("approve_after", "int"), "N", "approve each device-code login after N"
    .. " pending polls (0: at the first); without it, approve through the control path" },
  { "--decline-after", nil, function(flag, v, opts)
      device_code("approve_after", "int")(flag, v, opts)
      opts.device_code.decline = true
    end, "N", "decline each device-code login after N pending polls" },
  { "--token-lifetime", "token_lifetime", "number", "S", "access token lifetime in emulated seconds (3599)" },
  { "--latency", "latency", "number", "MS", "fixed response latency in milliseconds" },
  { "--throttle", nil, function(_, _, opts)
      if type(opts.throttle) ~= "table" then opts.throttle = true end
    end, nil, "enforce Intune's request limits" },
  { "--throttle-model", nil, throttle_set("model", throttle_mod.MODELS,
      "fixed, sliding or bucket"), "M", "how the limits are counted: fixed (windows, the default), sliding"
    .. " (a window over arrival times) or bucket (a token bucket); implies --throttle" },
  { "--throttle-limits", nil, throttle_limits, "SPEC", "limits as KEY=N items: window (s), app_writes,"
    .. " tenant_writes, app_requests, tenant_requests, retry_after_extra (s); implies --throttle" },
  { "--retry-after", nil, throttle_set("retry_after", throttle_mod.FORMS,
      "integer, decimal, date, list or absent"), "FORM", "Retry-After form of a 429: integer"
    .. " (default), decimal, date, list (\"N,M\") or absent; implies --throttle" },
  { "--time-scale", "time_scale", "number", "X", "run the emulated clock X times faster (throttle windows,"
    .. " token lifetimes)" },
  { "--faults", nil, faults, "SPEC", "fault rates, KIND=RATE items with KIND one of 429 500 502 503 504 reset"
    .. " truncate stall malformed revoke, e.g. 503=0.05,504=0.02,reset=0.01" },
  { "--fault-target", nil, fault_target, "ID=K[+K]", "faults for one device id, spent in order by the"
    .. " requests naming it, e.g. ID=429+503; repeatable" },
  { "--fault-retry-after", nil, function(flag, v, opts)
      opts.faults = opts.faults or {}
      opts.faults.retry_after = number(flag, v, false)
    end, "S", "Retry-After seconds on injected 429 and 503 answers" },
  { "--admin-key", "admin_key", "string", "KEY", "the control path's admin key (16+ characters; default: a"
    .. " random one, printed at start)" },
  { "--no-control", nil, function(_, _, opts) opts.admin_key = false end, nil, "serve no control path" },
  { "--tls-cert", "tls_cert", "string", "F", "serve HTTPS with this PEM certificate (needs --tls-key)" },
  { "--tls-key", "tls_key", "string", "F", "the PEM private key of --tls-cert" },
  { "--app", "app", "string", "MODULE", "serve another app module (default autopilot.emulator.app)" },
}

local BY_FLAG = {}
for _, s in ipairs(M.SWITCHES) do BY_FLAG[s[1]] = s end

--- The `--help` text, from `SWITCHES`.
-- @treturn string
function M.usage()
  local out = { [[
usage: autopilot-emulator [options]

Serves an emulated Microsoft Graph (Autopilot devices) and identity platform on one port.
Prints the base URL alone on the first line, then the tenant, the default app's credentials and the
admin key of the control path (GET /_emulator/state, POST /_emulator/configure with the header
"X-Emulator-Key: KEY"), and serves until SIGINT or SIGTERM.
]] }
  for _, s in ipairs(M.SWITCHES) do
    local head = "  " .. s[1] .. (s[4] and (" " .. s[4]) or "")
    local text, lines, line = s[5], {}, ""
    for word in text:gmatch("%S+") do
      if #line + #word + 1 > 72 then lines[#lines + 1] = line; line = word
      else line = line == "" and word or (line .. " " .. word) end
    end
    lines[#lines + 1] = line
    if #head > 24 then
      out[#out + 1] = head
      head = ""
    end
    for i, l in ipairs(lines) do
      local h = i == 1 and head or ""
      out[#out + 1] = h .. (" "):rep(25 - #h) .. l
    end
  end
  out[#out + 1] = "  -h, --help" .. (" "):rep(13) .. "show this help\n"
  return table.concat(out, "\n")
end

local function merge_config(path, opts)
  local value = cjson.decode(read_file(path, "--config"))
  if type(value) ~= "table" then error("--config: " .. path .. " does not hold a JSON object", 0) end
  for k, v in pairs(value) do opts[k] = v end
end

local function apply(s, flag, v, opts)
  local key, kind = s[2], s[3]
  if kind == "config" then merge_config(v, opts)
  elseif type(kind) == "function" then kind(flag, v, opts)
  elseif kind == "int" then opts[key] = number(flag, v, true)
  elseif kind == "number" then opts[key] = number(flag, v, false)
  elseif kind == "file" then opts[key] = read_file(v, flag)
  else opts[key] = v end
end

--- Parses the arguments into options of `autopilot.emulator.start`.
-- @tparam table argv the arguments
-- @treturn[1] table options
-- @return[2] "help" when asked for help
-- @treturn[3] nil
-- @treturn[3] string a message naming the switch (usage errors)
function M.parse(argv)
  local opts, i = {}, 1
  local ok, err = pcall(function()
    while i <= #argv do
      local a = argv[i]
      if a == "-h" or a == "--help" then error({ help = true }) end
      local name, inline = a:match("^(%-%-[%w-]+)=(.*)$")
      name = name or a
      local s = BY_FLAG[name]
      if not s then error("unknown argument '" .. a .. "' (see --help)", 0) end
      local v = inline
      if s[4] == nil then
        if inline then error(name .. " takes no value", 0) end
      elseif not v then
        i = i + 1
        v = argv[i]
        if v == nil then error(name .. " needs a value", 0) end
      end
      apply(s, name, v, opts)
      i = i + 1
    end
  end)
  if not ok then
    if type(err) == "table" and err.help then return "help" end
    return nil, tostring(err)
  end
  if opts.time_scale == 0 then return nil, "--time-scale must be above 0" end
  if (opts.tls_cert == nil) ~= (opts.tls_key == nil) then return nil, "--tls-cert and --tls-key go together" end
  return opts
end

return M
