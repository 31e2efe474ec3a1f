--- JSON Web Tokens for the emulated identity platform: mints the emulator's own HS256 tokens and
-- parses (without trusting) tokens that clients send, such as client assertions.
-- Uses `autopilot.emulator.crypto` (C, libcrypto; preloaded in the emulator's server state).
-- @module autopilot.emulator.jwt
local cjson = require("cjson.safe").new()

local M = {}

local crypto_mod
local function crypto()
  crypto_mod = crypto_mod or require("autopilot.emulator.crypto")
  return crypto_mod
end

--- Constant-time comparison of two strings (so a signature check leaks no timing).
-- @tparam string a
-- @tparam string b
-- @treturn boolean
function M.equal(a, b)
  if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = diff | (a:byte(i) ~ b:byte(i)) end
  return diff == 0
end

--- Base64url without padding.
-- @tparam string s bytes
-- @treturn string
function M.b64url(s)
  return (crypto().b64url_encode(s):gsub("=+$", ""))
end

--- Decodes base64url (padding optional).
-- @tparam string s
-- @treturn[1] string the bytes
-- @return[2] nil when `s` is not base64url
function M.unb64url(s)
  if type(s) ~= "string" or not s:match("^[%w%-_]*=*$") then return nil end
  local ok, out = pcall(crypto().b64url_decode, (s:gsub("=+$", "")))
  if ok and type(out) == "string" then return out end
  return nil
end

--- Mints an HS256 token.
-- @tparam table header extra header fields (`kid`, ...); `alg` and `typ` are set here
-- @tparam table claims the claims (plain values only)
-- @tparam string key the HMAC key (raw bytes)
-- @treturn string the compact token
function M.encode_hs256(header, claims, key)
  local h = { alg = "HS256", typ = "JWT" }
  for k, v in pairs(header or {}) do h[k] = v end
  local input = M.b64url(assert(cjson.encode(h))) .. "." .. M.b64url(assert(cjson.encode(claims)))
  return input .. "." .. M.b64url(crypto().hmac_sha256(key, input))
end

--- Parses a compact JWS without checking its signature.
-- @tparam string token
-- @treturn[1] table `{ header = {...}, claims = {...}, signing_input = "h.p", signature = bytes }`
-- @return[2] nil
-- @treturn[2] string why it is malformed ("no dots", "not three parts", "bad base64url", "bad JSON")
function M.decode(token)
  if type(token) ~= "string" or token == "" then return nil, "empty" end
  if not token:find(".", 1, true) then return nil, "no dots" end
  local h64, p64, s64 = token:match("^([^.]*)%.([^.]*)%.([^.]*)$")
  if not h64 then return nil, "not three parts" end
  local hraw, praw, sig = M.unb64url(h64), M.unb64url(p64), M.unb64url(s64)
  if not (hraw and praw and sig) then return nil, "bad base64url" end
  local header, claims = cjson.decode(hraw), cjson.decode(praw)
  if type(header) ~= "table" or type(claims) ~= "table" then return nil, "bad JSON" end
  return { header = header, claims = claims, signing_input = h64 .. "." .. p64, signature = sig }
end

--- Checks an HS256 signature made with `key`.
-- @tparam table parsed a result of @{decode}
-- @tparam string key the HMAC key
-- @treturn boolean true when the header says HS256 and the signature matches
function M.verify_hs256(parsed, key)
  if parsed.header.alg ~= "HS256" then return false end
  return M.equal(crypto().hmac_sha256(key, parsed.signing_input), parsed.signature)
end

return M
