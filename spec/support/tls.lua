--- Self-signed certificates made with the openssl command-line tool, for HTTPS emulators and certificate
-- credentials. Independent of the code under test.
local shell = require "shell"
local files = require "files"

local M = {}

--- Makes a self-signed certificate and its private key (PEM files).
-- @tparam[opt] string dir where the files go: `<dir>/<name>.crt` and `<dir>/<name>.key` (unused when `opts.crt`
--   and `opts.key` are given)
-- @tparam[opt] string name the file names' stem, and the subject's CN unless `opts.cn` is given
-- @tparam[opt] table opts `{ cn = "127.0.0.1", loopback = true (subjectAltName IP:127.0.0.1),
--   newkey = "rsa:2048" (openssl req -newkey argument, e.g. "ec -pkeyopt ec_paramgen_curve:P-256"),
--   days = 2, passphrase = "..." (encrypt the key; default unencrypted), crt = path, key = path (instead of the
--   default names) }`
-- @treturn[1] table `{ crt = path, key = path, pem = certificate text }`
-- @return[2] nil when openssl failed
-- @treturn[2] string the command that failed
function M.self_signed(dir, name, opts)
  opts = opts or {}
  local q = shell.quote
  local crt, key = opts.crt or dir .. "/" .. name .. ".crt", opts.key or dir .. "/" .. name .. ".key"
  local cmd = "openssl req -x509 -newkey " .. (opts.newkey or "rsa:2048")
    .. (opts.passphrase and " -passout pass:" .. q(opts.passphrase) or " -nodes")
    .. " -days " .. (opts.days or 2) .. " -subj /CN=" .. (opts.cn or name)
    .. (opts.loopback and " -addext subjectAltName=IP:127.0.0.1" or "")
    .. " -keyout " .. q(key) .. " -out " .. q(crt)
  if not shell.ok(cmd) then return nil, "command failed: " .. cmd end
  return { crt = crt, key = key, pem = files.slurp(crt) }
end

return M
