--- Shared fixtures of the spec/auth_*_spec.lua files: certificates for certificate credentials, connect
-- options pointed at an emulator, and the app id and permission those specs register.
local shell = require "shell"
local tls = require "tls"

local M = {}

--- A self-signed RSA certificate and key in dir: `name.crt`, `name.key`, and `name.enc.key` (the same key
-- encrypted with `passphrase`, PKCS#8) when a passphrase is given.
-- @tparam string dir
-- @tparam string name the files' stem and the certificate's CN
-- @tparam[opt] string passphrase
-- @treturn table `{ crt = path, key = path, enc = path, pem = certificate text }`; raises when openssl fails
function M.certificate(dir, name, passphrase)
  local c = assert(tls.self_signed(dir, name))
  c.enc = dir .. "/" .. name .. ".enc.key"
  if passphrase then
    shell.check("openssl pkcs8 -topk8 -v2 aes-256-cbc -in " .. shell.quote(c.key) .. " -out " .. shell.quote(c.enc)
      .. " -passout pass:" .. shell.quote(passphrase))
  end
  return c
end

--- Options of autopilot.connect aimed at the emulator (no credentials), with `extra` on top.
-- @tparam table emu
-- @tparam[opt] table extra
-- @treturn table
function M.opts(emu, extra)
  local o = { graph_url = emu.url, login_url = emu.url, tenant = emu.tenant, max_retries = 2, max_retry_wait = 5 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

M.APP = "11111111-2222-4333-8444-555555555555"
M.WRITE = "DeviceManagementServiceConfig.ReadWrite.All"

return M
