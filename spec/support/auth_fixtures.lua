--- Shared helpers of the spec/auth_*_spec.lua files: temp dirs, certificates made with the openssl CLI,
-- emulators on loopback, connect options pointed at them.
local M = {}

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
M.q = q

function M.sh(cmd)
  assert(os.execute(cmd .. " >/dev/null 2>&1"), "command failed: " .. cmd)
end

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.spit(path, s, mode)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  if mode then M.sh("chmod " .. mode .. " " .. q(path)) end
end

function M.tempdir()
  local p = os.tmpname()
  os.remove(p)
  M.sh("mkdir -m 700 " .. q(p))
  return p
end

function M.rmdir(dir)
  if dir and dir:find("^/tmp/") then os.execute("rm -rf " .. q(dir)) end
end

--- A self-signed RSA certificate and key in dir: `name.crt`, `name.key`, and `name.enc.key` (encrypted).
function M.certificate(dir, name, passphrase)
  local crt, key = dir .. "/" .. name .. ".crt", dir .. "/" .. name .. ".key"
  M.sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " .. q(key) .. " -out " .. q(crt)
    .. " -days 2 -subj /CN=" .. name)
  local enc = dir .. "/" .. name .. ".enc.key"
  if passphrase then
    M.sh("openssl pkcs8 -topk8 -v2 aes-256-cbc -in " .. q(key) .. " -out " .. q(enc) .. " -passout pass:"
      .. q(passphrase))
  end
  return { crt = crt, key = key, enc = enc, pem = M.slurp(crt) }
end

--- Options of autopilot.connect aimed at the emulator, with `extra` on top.
function M.opts(emu, extra)
  local o = { graph_url = emu.url, login_url = emu.url, tenant = emu.tenant, max_retries = 2, max_retry_wait = 5 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

M.APP = "11111111-2222-4333-8444-555555555555"
M.WRITE = "DeviceManagementServiceConfig.ReadWrite.All"

return M
