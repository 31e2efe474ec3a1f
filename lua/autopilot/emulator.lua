--- A local emulator of Microsoft Graph and the identity platform, served from a background thread.
--
--     local emu <close> = assert(require("autopilot.emulator").start{ devices = 500, seed = 42 })
--     print(emu.url, emu.tenant, emu.client_id)
--
-- The host (libmicrohttpd, module `autopilot.emulator.host`) runs the tenant app (`autopilot.emulator.app` by
-- default) in a Lua state of its own; see doc/INTERNALS.md.
-- @module autopilot.emulator
local host = require "autopilot.emulator.host"
local json = require("cjson.safe").new()

local M = { _VERSION = host._VERSION }

-- The host's own options; everything else goes to the app as its config.
local HOST_KEYS = {
  host = "string", bind = "string", port = "number", tls_cert = "string", tls_key = "string",
  app = "string", allow_remote = "boolean",
}

local Emulator = {}   -- methods
local meta = { __index = Emulator, __name = "autopilot.emulator" }

local function is_loopback(addr)
  if addr == "::1" then return true end
  local a, b, c, d = addr:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  return a == 127 and b <= 255 and c <= 255 and d <= 255
end

-- PEM text is used as is; anything else is a file to read.
local function pem(value, what)
  if value:find("-----BEGIN", 1, true) then return value end
  local f, err = io.open(value, "rb")
  if not f then return nil, what .. ": " .. err end
  local text = f:read("a")
  f:close()
  if not text or not text:find("-----BEGIN", 1, true) then return nil, what .. ": " .. value .. " holds no PEM" end
  return text
end

local function split(opts)
  local hostopts, config = {}, {}
  for k, v in pairs(opts) do
    local want = HOST_KEYS[k]
    if want then
      if type(v) ~= want then
        error(("option '%s' must be a %s, not %s"):format(k, want, type(v)), 3)
      end
      hostopts[k] = v
    else
      config[k] = v
    end
  end
  return hostopts, config
end

local function call(self, name, arg)
  local srv = rawget(self, "_srv")
  if not srv then error("attempt to use a stopped emulator", 3) end
  local text
  if arg ~= nil then
    local err
    text, err = json.encode(arg)
    if not text then error(("%s: argument cannot be sent as JSON: %s"):format(name, err), 3) end
  end
  local out, err = srv:call(name, text)
  if not out then error(("emulator %s failed: %s"):format(name, err), 3) end
  local value, derr = json.decode(out)
  if derr then error(("emulator %s: bad JSON from the app: %s"):format(name, derr), 3) end
  return value
end

--- Starts an emulator on loopback.
-- Host options: `host` (or `bind`, default "127.0.0.1"; only loopback addresses unless `allow_remote = true`),
-- `port` (0, the default, picks a free one), `tls_cert` and `tls_key` (PEM text or file paths: serve HTTPS),
-- `app` (module name, default "autopilot.emulator.app"). Every other key is passed, JSON-encoded, to the
-- app as its config (`devices`, `seed`, `latency`, ...; see the tenant app).
-- Wrong option types, a non-loopback address without `allow_remote`, and config that JSON cannot carry raise.
-- @tparam[opt] table opts options
-- @treturn[1] Emulator the running emulator: fields `url`, `port`, `tenant`, `client_id`, `client_secret`,
-- `admin_key` (of the HTTP control path, autopilot.emulator.control; nil when `admin_key = false`)
-- @return[2] nil when it cannot start (port taken, app failing to load, unreadable certificate)
-- @treturn[2] string message
function M.start(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("autopilot.emulator.start: options must be a table", 2) end
  local h, config = split(opts)
  if h.host and h.bind and h.host ~= h.bind then error("options 'host' and 'bind' disagree", 2) end
  local bind = h.host or h.bind or "127.0.0.1"
  if bind == "localhost" then bind = "127.0.0.1" end
  if not is_loopback(bind) and h.allow_remote ~= true then
    error(("refusing to listen on %s: not a loopback address (set allow_remote = true)"):format(bind), 2)
  end
  local port = math.tointeger(h.port or 0)
  if not port or port < 0 or port > 65535 then error("option 'port' must be an integer from 0 to 65535", 2) end
  if (h.tls_cert == nil) ~= (h.tls_key == nil) then error("options 'tls_cert' and 'tls_key' go together", 2) end
  local cert, key, err
  if h.tls_cert then
    cert, err = pem(h.tls_cert, "tls_cert")
    if not cert then return nil, err end
    key, err = pem(h.tls_key, "tls_key")
    if not key then return nil, err end
  end
  if cert and config.scheme == nil then config.scheme = "https" end -- the app's absolute links
  local text, jerr = json.encode(config)
  if not text then error("autopilot.emulator.start: config cannot be sent as JSON: " .. jerr, 2) end
  local srv, serr = host.start{
    bind = bind, port = port, app = h.app or "autopilot.emulator.app", config = text,
    path = package.path, cpath = package.cpath, tls_cert = cert, tls_key = key,
  }
  if not srv then return nil, serr end
  local scheme = cert and "https" or "http"
  local shown = bind:find(":", 1, true) and ("[" .. bind .. "]") or bind
  local self = setmetatable({ _srv = srv, port = srv:port() }, meta)
  self.url = ("%s://%s:%d"):format(scheme, shown, self.port)
  local info, ierr = srv:call("info")
  info = info and json.decode(info)
  if type(info) ~= "table" then
    srv:stop()
    return nil, "the app gave no info: " .. tostring(ierr or "not a table")
  end
  self.tenant, self.client_id, self.client_secret = info.tenant, info.client_id, info.client_secret
  self.admin_key = info.admin_key or nil
  return self
end

--- Reads the app's state (devices, counters, log; see the tenant app).
-- Raises if the emulator is stopped or the app fails.
-- @param[opt] arg passed to the app's `state` (e.g. a filter), JSON-encoded
-- @treturn table plain data
function Emulator:state(arg)
  return call(self, "state", arg)
end

--- Changes the app's models at run time (latency, throttling, faults, clock).
-- Raises if the emulator is stopped, or the app rejects the settings.
-- @tparam table settings
-- @treturn boolean true
function Emulator:configure(settings)
  if type(settings) ~= "table" then error("configure: settings must be a table", 2) end
  return call(self, "configure", settings)
end

--- Stops serving and frees everything; idempotent (also `<close>` and garbage collection).
function Emulator:stop()
  local srv = rawget(self, "_srv")
  self._srv = nil
  if srv then srv:stop() end
end

--- True while the emulator serves.
-- @treturn boolean
function Emulator:running()
  return rawget(self, "_srv") ~= nil
end

meta.__close = Emulator.stop
meta.__gc = Emulator.stop
meta.__tostring = function(self)
  return ("autopilot.emulator (%s, %s)"):format(self.url, rawget(self, "_srv") and "open" or "closed")
end

return M
