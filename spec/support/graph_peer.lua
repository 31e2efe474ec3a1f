--- A plain HTTP peer for the emulator specs: the curl command-line tool through io.popen, so the
-- emulator is tested over real sockets by a client that is not ours. Loopback only.
local cjson = require "cjson"
local files = require "files"
local shell = require "shell"

local M = {}

local q = shell.quote
M.quote = q

local function slurp(path)
  return files.read(path) or ""
end

--- Runs a shell command (see `shell.run`).
-- @function sh
-- @tparam string cmd
-- @treturn string its standard output
-- @treturn integer its exit code
M.sh = shell.run

--- Percent-encodes a query value the way the SDKs do (keeps parentheses, commas and quotes).
-- @tparam string s
-- @treturn string
function M.escape(s)
  return (s:gsub("[^%w%-%._~%(%),']", function(c) return string.format("%%%02X", c:byte()) end))
end

--- One request.
-- @tparam table r `{ method =, url =, headers = { name = value }, body = "...", compressed = bool,
--   max_time = seconds, http1 = true }`
-- @treturn table `{ status = n (0 when none), headers = { lower-case name = value }, body = "...",
--   exit = curl exit code, time = seconds (curl's time_total), json = decoded body or nil }`
function M.request(r)
  assert(r.url:match("^https?://127%.0%.0%.1[:/]"), "specs talk to loopback only")
  local hfile, bfile, dfile = os.tmpname(), os.tmpname(), nil
  local cmd = { "curl -s -g -X", q(r.method or "GET"), "-D", q(hfile), "-o", q(bfile),
    "-w '%{http_code} %{time_total}'" }
  for k, v in pairs(r.headers or {}) do cmd[#cmd + 1] = "-H " .. q(k .. ": " .. v) end
  if r.body then
    dfile = os.tmpname()
    files.write(dfile, r.body)
    cmd[#cmd + 1] = "--data-binary @" .. q(dfile)
    if not (r.headers and (r.headers["Content-Type"] or r.headers["content-type"])) then
      cmd[#cmd + 1] = "-H 'Content-Type: application/json'"
    end
  end
  if r.compressed then cmd[#cmd + 1] = "--compressed" end
  if r.max_time then cmd[#cmd + 1] = "-m " .. tostring(r.max_time) end
  if r.insecure or r.url:match("^https:") then cmd[#cmd + 1] = "-k" end -- the specs' own throwaway certificate
  cmd[#cmd + 1] = q(r.url)
  local p = io.popen(table.concat(cmd, " ") .. " 2>/dev/null")
  local out = p:read("a")
  local _, _, code = p:close()
  local status, time = out:match("^(%d+) ([%d%.]+)")
  local res = { status = tonumber(status) or 0, time = tonumber(time), exit = code or 0, headers = {},
    raw_headers = slurp(hfile), body = slurp(bfile) }
  -- the last header block (curl writes one per response, e.g. after 100-continue)
  local block = res.raw_headers:match(".*\r\n\r\n(HTTP/.-)\r\n\r\n$") or res.raw_headers
  for line in block:gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then res.headers[k:lower()] = v end
  end
  os.remove(hfile); os.remove(bfile)
  if dfile then os.remove(dfile) end
  local ok, j = pcall(cjson.decode, res.body)
  if ok then res.json = j end
  return res
end

--- A client-credentials token from the emulator.
-- @tparam table emu the emulator (url, tenant)
-- @tparam[opt] string client_id default the emulator's app
-- @tparam[opt] string secret
-- @treturn string the access token
function M.token(emu, client_id, secret)
  local body = "grant_type=client_credentials&client_id=" .. (client_id or emu.client_id)
    .. "&client_secret=" .. (secret or emu.client_secret):gsub("[^%w%-%._]", function(c)
      return string.format("%%%02X", c:byte()) end)
    .. "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
  local r = M.request{ method = "POST", url = emu.url .. "/" .. emu.tenant .. "/oauth2/v2.0/token", body = body,
    headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
  assert(r.status == 200, "token request failed: " .. r.status .. " " .. r.body)
  return r.json.access_token
end

--- A requester bound to an emulator and a token.
-- @tparam table emu
-- @tparam string token
-- @treturn function(method, path, opts) -> result (as `request`); path relative to emu.url
function M.client(emu, token)
  return function(method, path, opts)
    opts = opts or {}
    local headers = { Authorization = token and ("Bearer " .. token) or nil }
    for k, v in pairs(opts.headers or {}) do headers[k] = v end
    return M.request{ method = method, url = emu.url .. path, headers = headers, body = opts.body,
      compressed = opts.compressed, max_time = opts.max_time }
  end
end

--- A requester signed in as an app of the emulator (its default app unless told otherwise).
-- @tparam table emu
-- @tparam[opt] string client_id
-- @tparam[opt] string secret
-- @treturn function as from `client`, with a token from `token`
function M.connect(emu, client_id, secret)
  return M.client(emu, M.token(emu, client_id, secret))
end

--- Decodes Intune's message nested in a Graph error body.
-- @tparam table res a result
-- @treturn table|nil the nested object
function M.intune(res)
  local msg = res.json and res.json.error and res.json.error.message
  if type(msg) ~= "string" then return nil end
  local ok, j = pcall(cjson.decode, msg)
  return ok and j or nil
end

return M
