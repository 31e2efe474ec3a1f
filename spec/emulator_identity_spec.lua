-- Specs of the emulated identity platform (lua/autopilot/emulator/identity*.lua).
-- Part 1 calls identity.handle/authorize directly with request tables (pure Lua over the C crypto module);
-- part 2 goes over real sockets on 127.0.0.1 through the C host (autopilot.emulator.start) with the curl CLI.
-- Certificates and client assertions are made here with the openssl CLI, independently of the emulator.
require("autopilot.emulator.host") -- preloads autopilot.emulator.crypto into this state
local identity = require("autopilot.emulator.identity")
local jwt = require("autopilot.emulator.jwt")
local random = require("autopilot.emulator.random")
local cjson = require("cjson.safe").new()
local MESSAGES = require("autopilot.emulator.identity.tokens").MESSAGES
local files = require("files")
local shell = require("shell")
local tls = require("tls")

local DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
local JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
local GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
local WRITE = "DeviceManagementServiceConfig.ReadWrite.All"
local HOST = "127.0.0.1:8080"

-- helpers -------------------------------------------------------------------------------------------

local sh, readfile, writefile = shell.output, files.slurp, files.write

-- base64url written here, so the spec does not check the emulator with the emulator's own encoder
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local k = 4 - (b and 0 or 1) - (c and 0 or 1)
    for j = 1, k do
      local v = (n >> (18 - 6 * (j - 1))) & 63
      out[#out + 1] = B64:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end

local function urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function formbody(params)
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = urlencode(k) .. "=" .. urlencode(params[k]) end
  return table.concat(parts, "&")
end

local function claims_of(token)
  local p = assert(jwt.decode(token))
  return p.claims, p.header
end

local tmpdir
local function tmp(name)
  tmpdir = tmpdir or files.tempdir()
  return tmpdir .. "/" .. name
end

-- A self-signed RSA certificate made with the openssl CLI: { cert = PEM, key = path, x5t =, x5t256 = }.
local certs = {}
local function certificate(name)
  if certs[name] then return certs[name] end
  local c = assert(tls.self_signed(nil, name, { key = tmp(name .. ".key"), crt = tmp(name .. ".crt") }))
  local der = tmp(name .. ".der")
  sh(("openssl x509 -in %s -outform DER -out %s"):format(c.crt, der))
  local sha1 = sh(("openssl dgst -sha1 -binary %s | od -An -tx1 | tr -d ' \\n'"):format(der))
  local sha256 = sh(("openssl dgst -sha256 -binary %s | od -An -tx1 | tr -d ' \\n'"):format(der))
  local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
  certs[name] = { cert = c.pem, key = c.key, x5t = b64url(unhex(sha1)), x5t256 = b64url(unhex(sha256)) }
  return certs[name]
end

-- Removes the temporary folder (keys, assertions, bodies); later helpers make a new one.
local function cleanup()
  files.remove(tmpdir)
  tmpdir, certs = nil, {}
end

local seq = 0
-- A client assertion signed with the openssl CLI. `over` overrides claims, `hdr` header fields.
local function assertion(cert, alg, claims, hdr)
  local header = { alg = alg, typ = "JWT" }
  if alg == "PS256" then header["x5t#S256"] = cert.x5t256 else header.x5t = cert.x5t end
  for k, v in pairs(hdr or {}) do header[k] = v end
  if hdr and hdr.x5t == false then header.x5t = nil end
  local input = b64url(assert(cjson.encode(header))) .. "." .. b64url(assert(cjson.encode(claims)))
  seq = seq + 1
  local infile, sigfile = tmp("in" .. seq), tmp("sig" .. seq)
  writefile(infile, input)
  local pss = alg == "PS256" and " -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest" or ""
  sh(("openssl dgst -sha256 -sign %s%s -binary -out %s %s"):format(cert.key, pss, sigfile, infile))
  return input .. "." .. b64url(readfile(sigfile))
end

local function guid()
  local t = {}
  for i = 1, 16 do t[i] = string.format("%02x", math.random(0, 255)) end
  local h = table.concat(t)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-a" .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end

local function assertion_claims(aud, client_id, over)
  local now = os.time()
  local c = { aud = aud, iss = client_id, sub = client_id, jti = guid(), nbf = now, iat = now, exp = now + 600 }
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

-- request tables for identity.handle
local function post(idp, path, params, now, headers)
  local h = { host = HOST, ["content-type"] = "application/x-www-form-urlencoded" }
  for k, v in pairs(headers or {}) do h[k] = v end
  local resp = identity.handle(idp, { method = "POST", target = path, headers = h, body = formbody(params),
    scheme = "http" }, now or 0)
  return resp, cjson.decode(resp.body)
end

local function get(idp, target, headers, now)
  local h = { host = HOST }
  for k, v in pairs(headers or {}) do h[k] = v end
  local resp = identity.handle(idp, { method = "GET", target = target, headers = h, body = "", scheme = "http" },
    now or 0)
  return resp, cjson.decode(resp.body)
end

-- Checks an error reply's documented shape and returns its body.
local function aad_error(resp, body, status, err, code)
  assert.are.equal(status, resp.status)
  assert.are.equal("application/json; charset=utf-8", resp.headers["Content-Type"])
  assert.are.equal(err, body.error)
  assert.are.same({ code }, body.error_codes)
  local pattern = "^AADSTS" .. code .. ": .+\r\nTrace ID: (%S+)\r\nCorrelation ID: (%S+)\r\nTimestamp: "
    .. "(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%dZ)$"
  local trace, corr, ts = body.error_description:match(pattern)
  assert.is_truthy(trace, "description: " .. body.error_description)
  assert.are.equal(body.trace_id, trace)
  assert.are.equal(body.correlation_id, corr)
  assert.are.equal(body.timestamp, ts)
  assert.are.equal("https://login.microsoftonline.com/error?code=" .. code, body.error_uri)
  return body
end

local function new_idp(config, now)
  return identity.new(config or {}, random.new(7, "identity"), now or 0)
end

local function token_path(idp, tenant)
  return "/" .. (tenant or identity.info(idp).tenant) .. "/oauth2/v2.0/token"
end

local function secret_grant(idp, extra, now, tenant)
  local info = identity.info(idp)
  local p = { grant_type = "client_credentials", client_id = info.client_id, client_secret = info.client_secret,
    scope = GRAPH_DEFAULT }
  for k, v in pairs(extra or {}) do p[k] = v ~= false and v or nil end
  return post(idp, token_path(idp, tenant), p, now)
end

-- part 1: unit specs ------------------------------------------------------------------------------

describe("identity (unit)", function()
  teardown(cleanup)
  describe("client credentials with a secret", function()
    it("issues an app-only Graph token in the documented shape", function()
      local idp = new_idp({ token_lifetime = 120 })
      local resp, body = secret_grant(idp)
      assert.are.equal(200, resp.status)
      assert.are.equal("Bearer", body.token_type)
      assert.are.equal(120, body.expires_in)
      assert.are.equal(120, body.ext_expires_in)
      assert.is_nil(body.refresh_token)
      local c, h = claims_of(body.access_token)
      assert.are.equal("HS256", h.alg)
      assert.are.equal("JWT", h.typ)
      assert.is_string(h.kid)
      local info = identity.info(idp)
      assert.are.equal(info.tenant, c.tid)
      assert.are.equal(info.client_id, c.appid)
      assert.are.equal("https://graph.microsoft.com", c.aud)
      assert.are.equal("https://sts.windows.net/" .. info.tenant .. "/", c.iss)
      assert.are.equal("app", c.idtyp)
      assert.are.same({ WRITE }, c.roles)
      assert.is_nil(c.scp)
      assert.are.equal(c.iat + 120, c.exp)
      assert.is_string(c.oid)
      assert.is_falsy(body.access_token:find(info.client_secret, 1, true))
      local st = identity.state(idp)
      assert.are.equal(1, st.tokens_issued)
      assert.are.equal(1, st.by_grant.client_credentials)
      assert.are.equal(1, st.by_client_auth.secret)
    end)

    it("accepts the tenant's domain in the path, and HTTP Basic client authentication", function()
      local idp = new_idp()
      local info = identity.info(idp)
      local resp = secret_grant(idp, nil, 0, "Contoso.onmicrosoft.com")
      assert.are.equal(200, resp.status)
      local basic = "Basic " .. b64url(info.client_id .. ":" .. info.client_secret):gsub("%-", "+"):gsub("_", "/")
      resp = post(idp, token_path(idp), { grant_type = "client_credentials", client_id = info.client_id,
        scope = GRAPH_DEFAULT }, 0, { authorization = basic })
      assert.are.equal(200, resp.status)
    end)

    it("honours configured tenant, app, secret and extra apps", function()
      local idp = new_idp({ tenant = "11111111-2222-4333-8444-555555555555",
        client_id = "AAAA1111-2222-4333-8444-555555555555", client_secret = "s3cret",
        apps = { { client_id = "bbbb1111-2222-4333-8444-555555555555", client_secret = "other",
          roles = { "DeviceManagementServiceConfig.Read.All" } } } })
      local info = identity.info(idp)
      assert.are.equal("11111111-2222-4333-8444-555555555555", info.tenant)
      assert.are.equal("aaaa1111-2222-4333-8444-555555555555", info.client_id)
      assert.are.equal("s3cret", info.client_secret)
      local resp, body = post(idp, token_path(idp), { grant_type = "client_credentials",
        client_id = "bbbb1111-2222-4333-8444-555555555555", client_secret = "other", scope = GRAPH_DEFAULT })
      assert.are.equal(200, resp.status)
      assert.are.same({ "DeviceManagementServiceConfig.Read.All" }, (claims_of(body.access_token)).roles)
    end)

    it("reports each documented error in the documented shape", function()
      local idp = new_idp()
      local info = identity.info(idp)
      local r, b = secret_grant(idp, { client_secret = "wrong" }, 0)
      aad_error(r, b, 401, "invalid_client", 7000215)
      assert.is_truthy(b.error_description:find(info.client_id, 1, true))
      assert.is_falsy(r.body:find("wrong", 1, true))
      assert.is_falsy(r.body:find(info.client_secret, 1, true))
      r, b = secret_grant(idp, { client_id = "99999999-2222-4333-8444-555555555555" })
      aad_error(r, b, 400, "unauthorized_client", 700016)
      r, b = secret_grant(idp, nil, 0, "fabrikam.onmicrosoft.com")
      aad_error(r, b, 400, "invalid_request", 90002)
      assert.is_truthy(b.error_description:find("fabrikam.onmicrosoft.com", 1, true))
      for _, t in ipairs({ "common", "organizations", "consumers" }) do
        r, b = secret_grant(idp, nil, 0, t)
        aad_error(r, b, 400, "invalid_request", 9001023)
      end
      r, b = secret_grant(idp, { scope = "https://graph.microsoft.com/" .. WRITE })
      aad_error(r, b, 400, "invalid_scope", 1002012)
      r, b = secret_grant(idp, { scope = WRITE })
      aad_error(r, b, 400, "invalid_scope", 1002012)
      r, b = secret_grant(idp, { scope = GRAPH_DEFAULT .. " https://graph.microsoft.com/User.Read" })
      aad_error(r, b, 400, "invalid_scope", 70011)
      r, b = secret_grant(idp, { scope = "https://graph.microsoft.us/.default" })
      aad_error(r, b, 400, "invalid_resource", 500011)
      assert.is_truthy(b.error_description:find("https://graph.microsoft.us", 1, true))
      for _, p in ipairs({ "grant_type", "client_id", "scope" }) do
        r, b = secret_grant(idp, { [p] = false })
        aad_error(r, b, 400, "invalid_request", 900144)
        assert.is_truthy(b.error_description:find("'" .. p .. "'", 1, true))
      end
      r, b = secret_grant(idp, { client_secret = false })
      aad_error(r, b, 401, "invalid_client", 7000218)
      r, b = secret_grant(idp, { grant_type = "password" })
      aad_error(r, b, 400, "unsupported_grant_type", 70003)
      r, b = get(idp, token_path(idp))
      aad_error(r, b, 400, "invalid_request", 900561)
      -- a JSON body is not a form: the first missing parameter is reported
      r = identity.handle(idp, { method = "POST", target = token_path(idp), headers = { host = HOST,
        ["content-type"] = "application/json" }, body = '{"grant_type":"client_credentials"}' }, 0)
      aad_error(r, cjson.decode(r.body), 400, "invalid_request", 900144)
      local st = identity.state(idp)
      assert.is_true(#st.errors >= 14)
      assert.are.equal(7000215, st.errors[1].code)
      assert.are.equal("token", st.errors[1].endpoint)
    end)

    it("echoes a client-request-id GUID as the correlation id", function()
      local idp = new_idp()
      local info = identity.info(idp)
      local cid = "0b7c1d52-1111-4222-8333-444455556666"
      local r, b = post(idp, token_path(idp), { grant_type = "client_credentials", client_id = info.client_id,
        client_secret = "nope", scope = GRAPH_DEFAULT }, 0, { ["client-request-id"] = cid })
      aad_error(r, b, 401, "invalid_client", 7000215)
      assert.are.equal(cid, b.correlation_id)
      assert.are.equal(cid, r.headers["client-request-id"])
      assert.are.equal(b.trace_id, r.headers["x-ms-request-id"])
    end)

    it("refuses credentials from a public-only app", function()
      local idp = new_idp({ apps = { { client_id = "cccc1111-2222-4333-8444-555555555555", public = true,
        delegated_scopes = { WRITE } } } })
      local r, b = post(idp, token_path(idp), { grant_type = "client_credentials",
        client_id = "cccc1111-2222-4333-8444-555555555555", client_secret = "x", scope = GRAPH_DEFAULT })
      aad_error(r, b, 401, "invalid_client", 700025)
    end)
  end)

  describe("client credentials with a certificate assertion", function()
    local APP = "dddd1111-2222-4333-8444-555555555555"
    local idp, aud
    before_each(function()
      idp = new_idp({ apps = { { client_id = APP, certificate = certificate("good").cert, roles = { WRITE } } } })
      aud = "http://" .. HOST .. token_path(idp)
    end)

    local function grant(a, extra)
      local p = { grant_type = "client_credentials", client_id = APP, scope = GRAPH_DEFAULT,
        client_assertion_type = JWT_BEARER, client_assertion = a }
      for k, v in pairs(extra or {}) do p[k] = v ~= false and v or nil end
      return post(idp, token_path(idp), p, 0)
    end

    for _, alg in ipairs({ "RS256", "PS256" }) do
      it("accepts a " .. alg .. " assertion signed by the registered certificate", function()
        local r, b = grant(assertion(certificate("good"), alg, assertion_claims(aud, APP)))
        assert.are.equal(200, r.status, r.body)
        local c = claims_of(b.access_token)
        assert.are.equal(APP, c.appid)
        assert.are.equal("2", c.appidacr)
        assert.are.same({ WRITE }, c.roles)
        assert.are.equal(1, identity.state(idp).by_client_auth[alg])
      end)
    end

    it("accepts the tenant's domain form of the audience and both thumbprint headers", function()
      local a2 = "http://" .. HOST .. "/contoso.onmicrosoft.com/oauth2/v2.0/token"
      local r = grant(assertion(certificate("good"), "RS256", assertion_claims(a2, APP),
        { ["x5t#S256"] = certificate("good").x5t256 }))
      assert.are.equal(200, r.status, r.body)
    end)

    it("rejects a bad signature, an unknown key, a wrong algorithm (AADSTS700027, 5002738)", function()
      local good = assertion(certificate("good"), "PS256", assertion_claims(aud, APP))
      local h, p, s = good:match("^([^.]+)%.([^.]+)%.([^.]+)$")
      local tampered_claims = assertion_claims(aud, APP, { exp = os.time() + 999 })
      local forged = h .. "." .. b64url(cjson.encode(tampered_claims)) .. "." .. s
      local r, b = grant(forged)
      aad_error(r, b, 401, "invalid_client", 700027)
      assert.is_truthy(b.error_description:find("signature", 1, true))
      -- signed by another key, but claiming the registered certificate's thumbprint
      local other = certificate("other")
      local liar = { key = other.key, x5t = certificate("good").x5t, x5t256 = certificate("good").x5t256 }
      r, b = grant(assertion(liar, "RS256", assertion_claims(aud, APP)))
      aad_error(r, b, 401, "invalid_client", 700027)
      -- signed by an unregistered certificate
      r, b = grant(assertion(other, "PS256", assertion_claims(aud, APP)))
      aad_error(r, b, 401, "invalid_client", 700027)
      assert.is_truthy(b.error_description:find("not registered", 1, true))
      r, b = grant(h .. "." .. p .. "." .. s, { client_assertion_type = "urn:other" })
      aad_error(r, b, 400, "invalid_request", 700008)
      r, b = grant(h .. "." .. p .. "." .. s, { client_assertion_type = false })
      aad_error(r, b, 400, "invalid_request", 900144)
      local hs = b64url('{"alg":"HS256","typ":"JWT"}') .. "." .. p .. "." .. s
      r, b = grant(hs)
      aad_error(r, b, 401, "invalid_client", 5002738)
      r, b = grant("not-a-jwt")
      aad_error(r, b, 401, "invalid_client", 50027)
      assert.is_falsy(r.body:find(p, 1, true)) -- the assertion is never echoed
    end)

    it("checks audience, issuer, subject, time window and jti (700023, 700021, 500133, 50013)", function()
      local cert = certificate("good")
      local r, b = grant(assertion(cert, "PS256", assertion_claims("https://login.microsoftonline.com/"
        .. identity.info(idp).tenant .. "/oauth2/v2.0/token", APP)))
      aad_error(r, b, 401, "invalid_client", 700023)
      r, b = grant(assertion(cert, "PS256", assertion_claims(aud, APP, { iss = "someone-else" })))
      aad_error(r, b, 401, "invalid_client", 700021)
      r, b = grant(assertion(cert, "PS256", assertion_claims(aud, APP, { sub = "someone-else" })))
      aad_error(r, b, 401, "invalid_client", 700021)
      local past = os.time() - 3600
      r, b = grant(assertion(cert, "RS256", assertion_claims(aud, APP, { nbf = past - 600, iat = past - 600,
        exp = past })))
      aad_error(r, b, 401, "invalid_client", 500133)
      r, b = grant(assertion(cert, "RS256", assertion_claims(aud, APP, { nbf = os.time() + 3600,
        exp = os.time() + 4000 })))
      aad_error(r, b, 401, "invalid_client", 500133)
      -- judged on the real clock: emulated time far ahead does not expire a fresh assertion
      local fresh = assertion(cert, "PS256", assertion_claims(aud, APP))
      local far = post(idp, token_path(idp), { grant_type = "client_credentials", client_id = APP,
        scope = GRAPH_DEFAULT, client_assertion_type = JWT_BEARER, client_assertion = fresh }, 86400 * 30)
      assert.are.equal(200, far.status)
      local once = assertion(cert, "RS256", assertion_claims(aud, APP))
      assert.are.equal(200, (grant(once)).status)
      r, b = grant(once)
      aad_error(r, b, 401, "invalid_client", 50013)
    end)
  end)

  describe("device code", function()
    local function start(idp, scope, tenant)
      return post(idp, "/" .. (tenant or "organizations") .. "/oauth2/v2.0/devicecode",
        { client_id = identity.info(idp).client_id, scope = scope or (WRITE .. " offline_access") })
    end
    local function poll(idp, dc, now, extra)
      local p = { grant_type = DEVICE_GRANT, client_id = identity.info(idp).client_id, device_code = dc.device_code }
      for k, v in pairs(extra or {}) do p[k] = v ~= false and v or nil end
      return post(idp, "/organizations/oauth2/v2.0/token", p, now)
    end

    it("hands out a code in the documented shape", function()
      local idp = new_idp()
      local r, dc = start(idp)
      assert.are.equal(200, r.status)
      assert.are.equal("https://microsoft.com/devicelogin", dc.verification_uri)
      assert.are.equal(900, dc.expires_in)
      assert.are.equal(5, dc.interval)
      assert.is_truthy(dc.user_code:match("^%u+$"))
      assert.is_truthy(dc.message:find(dc.user_code, 1, true))
      assert.is_truthy(dc.message:find("https://microsoft.com/devicelogin", 1, true))
      assert.is_true(#dc.device_code > 40)
      idp = new_idp({ device_code = { expires_in = 60, interval = 1 } })
      dc = select(2, start(idp))
      assert.are.equal(60, dc.expires_in)
      assert.are.equal(1, dc.interval)
    end)

    it("is approved automatically after N polls and records every poll", function()
      local idp = new_idp({ device_code = { approve_after = 3 }, token_lifetime = 60 })
      local _, dc = start(idp, WRITE .. " offline_access openid profile")
      for i = 1, 3 do
        local r, b = poll(idp, dc, i * 5)
        aad_error(r, b, 400, "authorization_pending", 70016)
      end
      local r, b = poll(idp, dc, 20, { client_info = "1" })
      assert.are.equal(200, r.status, r.body)
      assert.are.equal("Bearer", b.token_type)
      assert.are.equal(60, b.expires_in)
      assert.is_string(b.refresh_token)
      assert.is_string(b.id_token)
      assert.is_string(b.client_info)
      assert.is_truthy(b.scope:find("https://graph.microsoft.com/" .. WRITE, 1, true))
      local c = claims_of(b.access_token)
      assert.are.equal("user", c.idtyp)
      assert.are.equal(WRITE, c.scp)
      assert.are.equal("admin@contoso.onmicrosoft.com", c.upn)
      assert.is_nil(c.roles)
      local polls = identity.state(idp).device_code.polls
      assert.are.equal(4, #polls)
      for i = 1, 3 do
        assert.are.equal(i * 5, polls[i].time)
        assert.are.equal(dc.user_code, polls[i].user_code)
        assert.are.equal("authorization_pending", polls[i].result)
      end
      assert.are.equal("success", polls[4].result)
      r, b = poll(idp, dc, 30)
      aad_error(r, b, 400, "invalid_grant", 54005)
    end)

    it("answers slow_down to a poll inside the interval and then wants 5 s more", function()
      local idp = new_idp({ device_code = { approve_after = 2 } })
      local _, dc = start(idp)
      local r, b = poll(idp, dc, 0)
      aad_error(r, b, 400, "authorization_pending", 70016)
      r, b = poll(idp, dc, 0) -- too fast: the interval is now 10
      aad_error(r, b, 400, "slow_down", 70016)
      r, b = poll(idp, dc, 8)
      aad_error(r, b, 400, "slow_down", 70016)
      r, b = poll(idp, dc, 8 + 15)
      aad_error(r, b, 400, "authorization_pending", 70016)
      r = poll(idp, dc, 8 + 15 + 15)
      assert.are.equal(200, r.status)
      local results, intervals = {}, {}
      for _, p in ipairs(identity.state(idp).device_code.polls) do
        results[#results + 1] = p.result
        intervals[#intervals + 1] = p.interval
      end
      assert.are.same({ "authorization_pending", "slow_down", "slow_down", "authorization_pending", "success" },
        results)
      assert.are.same({ 5, 10, 15, 15, 15 }, intervals)
    end)

    it("answers slow_down to the next N polls however well spaced (slow_down = n)", function()
      local idp = new_idp({ device_code = { approve_after = 1, slow_down = 2 } })
      local _, dc = start(idp)
      local r, b = poll(idp, dc, 100) -- the first poll, long after the interval: slow_down all the same
      aad_error(r, b, 400, "slow_down", 70016)
      r, b = poll(idp, dc, 200)
      aad_error(r, b, 400, "slow_down", 70016)
      r, b = poll(idp, dc, 300) -- the setting is used up; forced polls did not count towards approve_after
      aad_error(r, b, 400, "authorization_pending", 70016)
      identity.configure(idp, { device_code = { slow_down = 1 } }, 300)
      r, b = poll(idp, dc, 400)
      aad_error(r, b, 400, "slow_down", 70016)
      r = poll(idp, dc, 500)
      assert.are.equal(200, r.status)
      local results, intervals = {}, {}
      for _, p in ipairs(identity.state(idp).device_code.polls) do
        results[#results + 1] = p.result
        intervals[#intervals + 1] = p.interval
      end
      assert.are.same({ "slow_down", "slow_down", "authorization_pending", "slow_down", "success" }, results)
      assert.are.same({ 10, 15, 15, 20, 20 }, intervals)
      assert.has_error(function() identity.configure(idp, { device_code = { slow_down = 1.5 } }, 500) end)
      assert.has_error(function() new_idp({ device_code = { slow_down = -1 } }) end)
    end)

    it("answers bad_verification_code to every code, or to one login's (bad_code)", function()
      local idp = new_idp({ device_code = { approve_after = 0, bad_code = true } })
      local _, dc = start(idp)
      local r, b = poll(idp, dc, 0)
      aad_error(r, b, 400, "bad_verification_code", 70018)
      identity.configure(idp, { device_code = { bad_code = false } }, 10)
      r = poll(idp, dc, 10)
      assert.are.equal(200, r.status)
      local _, one = start(idp)
      local _, other = start(idp)
      identity.configure(idp, { device_code = { bad_code = one.user_code:lower() } }, 20)
      r, b = poll(idp, one, 20)
      aad_error(r, b, 400, "bad_verification_code", 70018)
      assert.are.equal(200, (poll(idp, other, 20)).status)
      local polls = identity.state(idp).device_code.polls
      assert.are.equal("bad_verification_code", polls[1].result)
      assert.are.equal(one.user_code, polls[#polls - 1].user_code)
      assert.are.equal("bad_verification_code", polls[#polls - 1].result)
      assert.has_error(function() identity.configure(idp, { device_code = { bad_code = 3 } }, 20) end)
    end)

    it("is approved or declined through configure", function()
      local idp = new_idp({ users = { { upn = "ops@contoso.onmicrosoft.com",
        scopes = { "DeviceManagementServiceConfig.Read.All" } } } })
      local _, a = start(idp, WRITE .. " DeviceManagementServiceConfig.Read.All")
      local _, d = start(idp)
      local r, b = poll(idp, a, 0)
      aad_error(r, b, 400, "authorization_pending", 70016)
      identity.configure(idp, { device_code = { approve = a.user_code:lower(), user = "ops@contoso.onmicrosoft.com" } },
        11)
      identity.configure(idp, { device_code = { decline = d.user_code } }, 11)
      r, b = poll(idp, a, 20)
      assert.are.equal(200, r.status)
      -- the user's own permissions narrow the grant
      assert.are.equal("DeviceManagementServiceConfig.Read.All", claims_of(b.access_token).scp)
      assert.are.equal("ops@contoso.onmicrosoft.com", claims_of(b.access_token).upn)
      assert.is_nil(b.refresh_token) -- no offline_access asked
      r, b = poll(idp, d, 20)
      aad_error(r, b, 400, "authorization_declined", 70000)
      r, b = poll(idp, d, 30)
      aad_error(r, b, 400, "authorization_declined", 70000)
      assert.has_error(function()
        identity.configure(idp, { device_code = { approve = "NOSUCHCODE" } }, 30)
      end)
    end)

    it("approves or declines all pending logins at once, or declines automatically", function()
      local idp = new_idp()
      local _, a = start(idp)
      local _, b2 = start(idp)
      identity.configure(idp, { device_code = { approve = true } }, 1)
      assert.are.equal(200, (poll(idp, a, 2)).status)
      assert.are.equal(200, (poll(idp, b2, 2)).status)
      idp = new_idp({ device_code = { decline = true, approve_after = 1 } })
      local _, c = start(idp)
      local r, b = poll(idp, c, 0)
      aad_error(r, b, 400, "authorization_pending", 70016)
      r, b = poll(idp, c, 10)
      aad_error(r, b, 400, "authorization_declined", 70000)
    end)

    it("expires, and refuses unknown codes", function()
      local idp = new_idp({ device_code = { expires_in = 60 } })
      local _, dc = start(idp)
      local r, b = poll(idp, dc, 61)
      aad_error(r, b, 400, "expired_token", 70019)
      r, b = poll(idp, { device_code = "DAQABIQEAAADnotacode" }, 62)
      aad_error(r, b, 400, "bad_verification_code", 70018)
      r, b = poll(idp, dc, 62, { device_code = false })
      aad_error(r, b, 400, "invalid_request", 900144)
    end)

    it("reports unconsented scopes, another cloud's Graph and a missing scope", function()
      local idp = new_idp({ device_code = { approve_after = 0 } })
      local _, dc = start(idp, "Mail.Read offline_access")
      local r, b = poll(idp, dc, 0)
      aad_error(r, b, 400, "invalid_grant", 65001)
      r, b = start(idp, "https://graph.microsoft.us/" .. WRITE)
      aad_error(r, b, 400, "invalid_resource", 500011)
      r, b = post(idp, "/organizations/oauth2/v2.0/devicecode", { client_id = identity.info(idp).client_id })
      aad_error(r, b, 400, "invalid_request", 900144)
      r, b = post(idp, "/organizations/oauth2/v2.0/devicecode", { client_id = "eeee1111-2222-4333-8444-555555555555",
        scope = WRITE })
      aad_error(r, b, 400, "unauthorized_client", 700016)
      r, b = start(idp, WRITE, "fabrikam.com")
      aad_error(r, b, 400, "invalid_request", 90002)
    end)

    it("needs a credential from an app without public client flows", function()
      local APP = "ffff1111-2222-4333-8444-555555555555"
      local idp = new_idp({ apps = { { client_id = APP, client_secret = "x1", delegated_scopes = { WRITE } } },
        device_code = { approve_after = 0 } })
      local _, dc = post(idp, "/organizations/oauth2/v2.0/devicecode", { client_id = APP, scope = WRITE })
      local r, b = post(idp, "/organizations/oauth2/v2.0/token", { grant_type = DEVICE_GRANT, client_id = APP,
        device_code = dc.device_code })
      aad_error(r, b, 401, "invalid_client", 7000218)
      r = post(idp, "/organizations/oauth2/v2.0/token", { grant_type = DEVICE_GRANT, client_id = APP,
        device_code = dc.device_code, client_secret = "x1" })
      assert.are.equal(200, r.status)
    end)
  end)

  describe("refresh tokens", function()
    local function login(idp, scope)
      local info = identity.info(idp)
      local _, dc = post(idp, "/organizations/oauth2/v2.0/devicecode", { client_id = info.client_id,
        scope = scope or (WRITE .. " DeviceManagementServiceConfig.Read.All offline_access") })
      identity.configure(idp, { device_code = { approve = dc.user_code } }, 0)
      local _, b = post(idp, "/organizations/oauth2/v2.0/token", { grant_type = DEVICE_GRANT,
        client_id = info.client_id, device_code = dc.device_code }, 1)
      return b
    end
    local function refresh(idp, rt, now, extra)
      local p = { grant_type = "refresh_token", client_id = identity.info(idp).client_id, refresh_token = rt }
      for k, v in pairs(extra or {}) do p[k] = v end
      return post(idp, "/" .. identity.info(idp).tenant .. "/oauth2/v2.0/token", p, now)
    end

    it("rotates: each use returns a new refresh token and the old one is dead", function()
      local idp = new_idp()
      local first = login(idp)
      local r, b = refresh(idp, first.refresh_token, 10)
      assert.are.equal(200, r.status)
      assert.are_not.equal(first.refresh_token, b.refresh_token)
      assert.are.equal(WRITE .. " DeviceManagementServiceConfig.Read.All", claims_of(b.access_token).scp)
      local r2, b2 = refresh(idp, first.refresh_token, 11)
      aad_error(r2, b2, 400, "invalid_grant", 70000)
      r2, b2 = refresh(idp, b.refresh_token, 12, { scope = "https://graph.microsoft.com/"
        .. "DeviceManagementServiceConfig.Read.All offline_access" })
      assert.are.equal(200, r2.status)
      assert.are.equal("DeviceManagementServiceConfig.Read.All", claims_of(b2.access_token).scp)
      local st = identity.state(idp)
      assert.are.equal(2, st.refresh_tokens_rotated)
      assert.are.equal(1, st.refresh_tokens_live)
    end)

    it("is bound to its client, expires with inactivity and dies on revocation", function()
      local idp = new_idp({ refresh_token_lifetime = 100, apps = { { client_id = "abab1111-2222-4333-8444-555555555555",
        public = true, delegated_scopes = { WRITE } } } })
      local b = login(idp)
      local r, e = post(idp, token_path(idp), { grant_type = "refresh_token",
        client_id = "abab1111-2222-4333-8444-555555555555", refresh_token = b.refresh_token }, 5)
      aad_error(r, e, 400, "invalid_grant", 70000)
      b = login(idp)
      r, e = refresh(idp, b.refresh_token, 500)
      aad_error(r, e, 400, "invalid_grant", 700082)
      b = login(idp)
      identity.revoke(idp, 2)
      r, e = refresh(idp, b.refresh_token, 3)
      aad_error(r, e, 400, "invalid_grant", 50173)
      r, e = refresh(idp, "1.AQnotarefreshtoken", 3)
      aad_error(r, e, 400, "invalid_grant", 70000)
    end)
  end)

  describe("authorize", function()
    local function app_token(idp, now)
      local _, b = secret_grant(idp, nil, now)
      return b.access_token
    end
    local function resign(idp, token, changes)
      local c = claims_of(token)
      for k, v in pairs(changes) do c[k] = v end
      return jwt.encode_hs256({ kid = idp.kid }, c, idp.key)
    end
    local function refused(idp, header, now, message)
      local claims, err = identity.authorize(idp, header, now or 1)
      assert.is_nil(claims)
      assert.are.equal(401, err.status)
      assert.are.equal("InvalidAuthenticationToken", err.code)
      assert.are.equal(message, err.message)
      return err
    end

    it("returns the claims of a valid token", function()
      local idp = new_idp()
      local c = assert(identity.authorize(idp, "Bearer " .. app_token(idp), 1))
      assert.are.equal(identity.info(idp).tenant, c.tid)
      assert.are.equal("app", c.idtyp)
      assert.are.same({ WRITE }, c.roles)
      assert.is_truthy(identity.authorize(idp, "bearer " .. app_token(idp), 1))
    end)

    it("refuses missing, malformed, forged, expired and early tokens with Graph's texts", function()
      local idp = new_idp({ token_lifetime = 100 })
      local token = app_token(idp, 0)
      refused(idp, nil, 1, "Access token is empty.")
      refused(idp, "", 1, "Access token is empty.")
      refused(idp, "Bearer ", 1, "Access token is empty.")
      refused(idp, "Basic abc", 1, "Access token is empty.")
      assert.is_truthy(refused(idp, "Bearer abc", 1, MESSAGES.no_dots).message:find("^IDX14100"))
      refused(idp, "Bearer a.b.c", 1, "CompactToken parsing failed with error code: 80049217")
      local h, p, s = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
      local c = claims_of(token)
      c.roles = { "Directory.ReadWrite.All" }
      refused(idp, "Bearer " .. h .. "." .. b64url(cjson.encode(c)) .. "." .. s, 1, "Invalid signature")
      local other = new_idp()
      refused(idp, "Bearer " .. app_token(other), 1, "Invalid signature")
      refused(other, "Bearer " .. p, 1, MESSAGES.no_dots)
      refused(idp, "Bearer " .. token, 100, "Access token has expired or is not yet valid.")
      refused(idp, "Bearer " .. resign(idp, token, { nbf = c.iat + 3600 }), 1,
        "Access token has expired or is not yet valid.")
      assert.is_truthy(identity.authorize(idp, "Bearer " .. token, 99))
      assert.are.equal(2, identity.state(idp).authorize_failures.expired)
    end)

    it("refuses another audience, another tenant, personal accounts and revoked tokens", function()
      local idp = new_idp()
      local token = app_token(idp)
      refused(idp, "Bearer " .. resign(idp, token, { aud = "https://management.azure.com" }), 1,
        "Access token validation failure. Invalid audience.")
      assert.is_truthy(identity.authorize(idp, "Bearer " .. resign(idp, token,
        { aud = "00000003-0000-0000-c000-000000000000" }), 1))
      refused(idp, "Bearer " .. resign(idp, token, { tid = "12121212-2222-4333-8444-555555555555" }), 1,
        "Access token validation failure. Invalid issuer.")
      -- a personal account signs in through device code: its token is refused
      local pidp = new_idp({ users = { { upn = "someone@outlook.com", personal = true } },
        device_code = { approve_after = 0 } })
      local info = identity.info(pidp)
      local _, dc = post(pidp, "/consumers/oauth2/v2.0/devicecode", { client_id = info.client_id, scope = WRITE })
      local r, b = post(pidp, "/consumers/oauth2/v2.0/token", { grant_type = DEVICE_GRANT, client_id = info.client_id,
        device_code = dc.device_code })
      assert.are.equal(200, r.status)
      assert.are.equal("9188040d-6c67-4c5b-b112-36a304b66dad", claims_of(b.access_token).tid)
      local err = refused(pidp, "Bearer " .. b.access_token, 1,
        "Access token validation failure. Personal Microsoft accounts are not supported for this API.")
      assert.are.equal("personal", err.reason)
      -- revocation kills what was issued before, not what comes after
      local before = app_token(idp, 1)
      identity.revoke(idp, 2)
      local msg = refused(idp, "Bearer " .. before, 3, MESSAGES.revoked)
      assert.is_truthy(msg.message:find("TokenIssuedBeforeRevocationTimestamp", 1, true))
      assert.is_truthy(identity.authorize(idp, "Bearer " .. app_token(idp, 3), 3))
      identity.configure(idp, { revoke = true }, 4)
      assert.is_nil((identity.authorize(idp, "Bearer " .. token, 4)))
    end)
  end)

  describe("managed identity", function()
    local function msi(idp, query, headers)
      return get(idp, "/msi/token?" .. query, headers, 10)
    end
    it("issues tokens in the IDENTITY_ENDPOINT style", function()
      local idp = new_idp({ token_lifetime = 300, managed_identity = { header = "hdr-secret",
        user_assigned = { { client_id = "abcd0000-2222-4333-8444-555555555555",
          roles = { "DeviceManagementServiceConfig.Read.All" } } } } })
      local q = "resource=" .. urlencode("https://graph.microsoft.com/") .. "&api-version=2019-08-01"
      local r, b = msi(idp, q, { ["x-identity-header"] = "hdr-secret" })
      assert.are.equal(200, r.status, r.body)
      assert.are.equal("Bearer", b.token_type)
      assert.are.equal("https://graph.microsoft.com/", b.resource)
      assert.is_string(b.expires_on)
      local c = claims_of(b.access_token)
      assert.are.equal(tostring(math.tointeger(c.exp)), b.expires_on)
      assert.are.equal(c.iat + 300, c.exp)
      assert.are.equal(identity.info(idp).msi_client_id, b.client_id)
      assert.are.equal(b.client_id, c.appid)
      assert.are.same({ WRITE }, c.roles)
      assert.is_truthy(identity.authorize(idp, "Bearer " .. b.access_token, 11))
      r, b = msi(idp, q .. "&client_id=abcd0000-2222-4333-8444-555555555555", { ["x-identity-header"] = "hdr-secret" })
      assert.are.equal(200, r.status)
      assert.are.equal("abcd0000-2222-4333-8444-555555555555", b.client_id)
      assert.are.same({ "DeviceManagementServiceConfig.Read.All" }, claims_of(b.access_token).roles)
      r = msi(idp, q, {})
      assert.are.equal(400, r.status)
      r = msi(idp, q, { ["x-identity-header"] = "wrong" })
      assert.are.equal(401, r.status)
      assert.is_falsy(r.body:find("wrong", 1, true) or r.body:find("hdr-secret", 1, true))
      assert.are.equal(400, (msi(idp, "resource=https://graph.microsoft.com",
        { ["x-identity-header"] = "hdr-secret" })).status)
      assert.are.equal(400, (msi(idp, "api-version=2019-08-01", { ["x-identity-header"] = "hdr-secret" })).status)
      assert.are.equal(400, (msi(idp, q .. "&client_id=00000000-0000-0000-0000-000000000001",
        { ["x-identity-header"] = "hdr-secret" })).status)
      assert.are.equal(400, (msi(idp, "resource=https://vault.azure.net&api-version=2019-08-01",
        { ["x-identity-header"] = "hdr-secret" })).status)
      assert.are.equal(1, identity.state(idp).by_grant.managed_identity - 1)
    end)

    it("issues tokens in the IMDS style", function()
      local idp = new_idp()
      local q = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
        .. urlencode("https://graph.microsoft.com")
      local r, b = get(idp, q, { metadata = "true" }, 5)
      assert.are.equal(200, r.status, r.body)
      assert.are.equal("Bearer", b.token_type)
      assert.is_string(b.expires_on)
      assert.is_string(b.expires_in)
      assert.is_truthy(identity.authorize(idp, "Bearer " .. b.access_token, 6))
      r, b = get(idp, q, {}, 5)
      assert.are.equal(400, r.status)
      assert.are.equal("Required metadata header not specified", b.error_description)
      r, b = get(idp, "/metadata/identity/oauth2/token?api-version=2018-02-01", { metadata = "true" }, 5)
      assert.are.equal(400, r.status)
      assert.are.equal("invalid_request", b.error)
      r = get(idp, "/metadata/identity/oauth2/token?api-version=1999-01-01&resource=https://graph.microsoft.com",
        { metadata = "true" }, 5)
      assert.are.equal(400, r.status)
    end)
  end)

  describe("discovery and housekeeping", function()
    it("publishes this emulator's endpoints in the OpenID configuration", function()
      local idp = new_idp()
      local tenant = identity.info(idp).tenant
      local r, b = get(idp, "/" .. tenant .. "/v2.0/.well-known/openid-configuration")
      assert.are.equal(200, r.status)
      assert.are.equal("http://" .. HOST .. "/" .. tenant .. "/oauth2/v2.0/token", b.token_endpoint)
      assert.are.equal("http://" .. HOST .. "/" .. tenant .. "/oauth2/v2.0/devicecode", b.device_authorization_endpoint)
      r, b = get(idp, "/common/v2.0/.well-known/openid-configuration")
      assert.are.equal(200, r.status)
      assert.is_truthy(b.issuer:find("{tenantid}", 1, true))
      r, b = get(idp, "/nowhere.example/v2.0/.well-known/openid-configuration")
      aad_error(r, b, 400, "invalid_tenant", 90002)
      assert.is_true(identity.match("/common/oauth2/v2.0/token"))
      assert.is_true(identity.match("/msi/token?resource=x"))
      assert.is_false(identity.match("/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"))
      assert.are.equal(404, (get(idp, "/" .. tenant .. "/oauth2/v2.0/nothing")).status)
    end)

    it("configures lifetimes, apps and users at run time, and rejects bad values", function()
      local idp = new_idp()
      identity.configure(idp, { token_lifetime = 5, latency = { fixed = 1 } }, 0)
      local _, b = secret_grant(idp)
      assert.are.equal(5, b.expires_in)
      identity.configure(idp, { apps = { { client_id = "12341234-2222-4333-8444-555555555555", client_secret = "n" } },
        users = { { upn = "new@contoso.onmicrosoft.com" } } }, 0)
      local r = post(idp, token_path(idp), { grant_type = "client_credentials",
        client_id = "12341234-2222-4333-8444-555555555555", client_secret = "n", scope = GRAPH_DEFAULT })
      assert.are.equal(200, r.status)
      assert.has_error(function() identity.configure(idp, { token_lifetime = "soon" }, 0) end)
      assert.has_error(function() identity.configure(idp, { apps = { { client_secret = "x" } } }, 0) end)
      assert.has_error(function() identity.configure(idp, { users = { { upn = "nobody" } } }, 0) end)
      assert.has_error(function() identity.new({ tenant = "contoso" }, random.new(1), 0) end)
    end)

    it("never shows a secret, token or code in its state or errors", function()
      local idp = new_idp({ device_code = { approve_after = 1 }, client_certificate = certificate("good").cert })
      local info = identity.info(idp)
      local seen = { info.client_secret, info.identity_header }
      local _, b = secret_grant(idp)
      seen[#seen + 1] = b.access_token
      local _, dc = post(idp, "/organizations/oauth2/v2.0/devicecode", { client_id = info.client_id,
        scope = WRITE .. " offline_access" })
      seen[#seen + 1] = dc.device_code
      post(idp, "/organizations/oauth2/v2.0/token", { grant_type = DEVICE_GRANT, client_id = info.client_id,
        device_code = dc.device_code }, 0)
      local _, t = post(idp, "/organizations/oauth2/v2.0/token", { grant_type = DEVICE_GRANT,
        client_id = info.client_id, device_code = dc.device_code }, 10)
      seen[#seen + 1] = t.refresh_token
      seen[#seen + 1] = t.access_token
      local errors = {}
      local r = secret_grant(idp, { client_secret = info.client_secret .. "x" })
      errors[#errors + 1] = r.body
      r = post(idp, token_path(idp), { grant_type = "refresh_token", client_id = info.client_id,
        refresh_token = t.refresh_token .. "x" }, 11)
      errors[#errors + 1] = r.body
      local a = assertion(certificate("other"), "PS256", assertion_claims("http://" .. HOST .. token_path(idp),
        info.client_id))
      seen[#seen + 1] = a
      r = secret_grant(idp, { client_secret = false, client_assertion_type = JWT_BEARER, client_assertion = a })
      errors[#errors + 1] = r.body
      local text = assert(cjson.encode(identity.state(idp))) .. table.concat(errors, "\n")
      text = text:gsub("\\/", "/")
      for _, s in ipairs(seen) do
        assert.is_falsy(text:find(s, 1, true), "found a secret in state or errors")
        assert.is_falsy(text:find(s:sub(1, 24), 1, true), "found part of a secret in state or errors")
      end
    end)
  end)
end)

-- part 2: over real sockets ---------------------------------------------------------------------------

-- curl on 127.0.0.1: returns status, raw body, decoded body (or nil), raw headers
local q = shell.quote
local ncurl = 0
local function curl(method, url, opts)
  opts = opts or {}
  ncurl = ncurl + 1
  local bodyfile, headfile = tmp("body" .. ncurl), tmp("head" .. ncurl)
  local cmd = { "curl -sS -g -X", method, "-o", bodyfile, "-D", headfile, "-w '%{http_code}'" }
  for k, v in pairs(opts.headers or {}) do cmd[#cmd + 1] = "-H " .. q(k .. ": " .. v) end
  if opts.form then
    local f = tmp("form" .. ncurl)
    writefile(f, formbody(opts.form))
    cmd[#cmd + 1] = "-H 'Content-Type: application/x-www-form-urlencoded' --data-binary @" .. f
  end
  cmd[#cmd + 1] = q(url)
  local status = tonumber(sh(table.concat(cmd, " ")))
  local body = readfile(bodyfile)
  return status, body, cjson.decode(body), readfile(headfile)
end

describe("identity (over sockets, through the emulator host)", function()
  local emulator = require("autopilot.emulator")
  local APP = "d00d1111-2222-4333-8444-555555555555"
  local emu, token_url, list_url
  local bodies = {} -- every error body seen, checked for secrets at the end

  setup(function()
    emu = assert(emulator.start{ devices = 3, seed = 5, token_lifetime = 600,
      apps = { { client_id = APP, certificate = certificate("good").cert, roles = { WRITE } } },
      users = { { upn = "admin@contoso.onmicrosoft.com" }, { upn = "someone@outlook.com", personal = true } },
      managed_identity = { header = "e2e-identity-header" } })
    token_url = emu.url .. "/" .. emu.tenant .. "/oauth2/v2.0/token"
    list_url = emu.url .. "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$top=1"
  end)
  teardown(function()
    if emu then emu:stop() end
    cleanup()
  end)

  local function token_post(form, url)
    local status, raw, body = curl("POST", url or token_url, { form = form })
    if status >= 400 then bodies[#bodies + 1] = raw end
    return status, body, raw
  end
  local function graph(token)
    local status, raw, body = curl("GET", list_url, { headers = token and { Authorization = "Bearer " .. token } })
    if status >= 400 then bodies[#bodies + 1] = raw end
    return status, body
  end
  local function secret_token()
    local status, body = token_post({ grant_type = "client_credentials", client_id = emu.client_id,
      client_secret = emu.client_secret, scope = GRAPH_DEFAULT })
    assert.are.equal(200, status)
    return body.access_token
  end

  it("issues a token by client secret that Graph accepts, and refuses what Graph refuses", function()
    local token = secret_token()
    local status, body = graph(token)
    assert.are.equal(200, status)
    assert.are.equal(1, #body.value)
    status, body = graph(nil)
    assert.are.equal(401, status)
    assert.are.equal("InvalidAuthenticationToken", body.error.code)
    assert.are.equal("Access token is empty.", body.error.message)
    status, body = graph("garbage")
    assert.are.equal(401, status)
    assert.is_truthy(body.error.message:find("^IDX14100"))
    local h, p, s = token:match("^([^.]+)%.([^.]+)%.([^.]+)$")
    local c = claims_of(token)
    c.exp = c.exp + 86400
    status, body = graph(h .. "." .. b64url(cjson.encode(c)) .. "." .. s)
    assert.are.equal(401, status)
    assert.are.equal("Invalid signature", body.error.message)
    assert.is_string(p)
    emu:configure{ advance = 601 } -- the token lifetime is 600 emulated seconds
    status, body = graph(token)
    assert.are.equal(401, status)
    assert.are.equal("Access token has expired or is not yet valid.", body.error.message)
    local fresh = secret_token()
    assert.are.equal(200, (graph(fresh)))
    emu:configure{ revoke = true }
    status, body = graph(fresh)
    assert.are.equal(401, status)
    assert.is_truthy(body.error.message:find("TokenIssuedBeforeRevocationTimestamp", 1, true))
    assert.are.equal(200, (graph(secret_token())))
    local failures = emu:state().identity.authorize_failures
    assert.are.equal(1, failures.empty)
    assert.are.equal(1, failures.signature)
    assert.are.equal(1, failures.expired)
    assert.are.equal(1, failures.revoked)
  end)

  for _, alg in ipairs({ "RS256", "PS256" }) do
    it("verifies a " .. alg .. " certificate assertion built for this endpoint", function()
      local a = assertion(certificate("good"), alg, assertion_claims(token_url, APP))
      local status, body = token_post({ grant_type = "client_credentials", client_id = APP, scope = GRAPH_DEFAULT,
        client_assertion_type = JWT_BEARER, client_assertion = a })
      assert.are.equal(200, status)
      assert.are.equal(APP, claims_of(body.access_token).appid)
      assert.are.equal(200, (graph(body.access_token)))
      status, body = token_post({ grant_type = "client_credentials", client_id = APP, scope = GRAPH_DEFAULT,
        client_assertion_type = JWT_BEARER, client_assertion = a })
      assert.are.equal(401, status) -- the same jti again
      assert.are.equal(50013, body.error_codes[1])
      local wrong = assertion(certificate("other"), alg, assertion_claims(token_url, APP),
        alg == "PS256" and { ["x5t#S256"] = certificate("good").x5t256 } or { x5t = certificate("good").x5t })
      status, body = token_post({ grant_type = "client_credentials", client_id = APP, scope = GRAPH_DEFAULT,
        client_assertion_type = JWT_BEARER, client_assertion = wrong })
      assert.are.equal(401, status)
      assert.are.equal("invalid_client", body.error)
      assert.are.equal(700027, body.error_codes[1])
      local old = os.time() - 7200
      status, body = token_post({ grant_type = "client_credentials", client_id = APP, scope = GRAPH_DEFAULT,
        client_assertion_type = JWT_BEARER, client_assertion = assertion(certificate("good"), alg,
          assertion_claims(token_url, APP, { nbf = old, iat = old, exp = old + 600 })) })
      assert.are.equal(401, status)
      assert.are.equal(500133, body.error_codes[1])
    end)
  end

  it("answers each documented token-endpoint error over the wire", function()
    local base = { grant_type = "client_credentials", client_id = emu.client_id,
      client_secret = emu.client_secret, scope = GRAPH_DEFAULT }
    local cases = {
      { { client_secret = "not-the-secret" }, nil, 401, "invalid_client", 7000215 },
      { { client_id = "0000aaaa-2222-4333-8444-555555555555" }, nil, 400, "unauthorized_client", 700016 },
      { {}, emu.url .. "/fabrikam.onmicrosoft.com/oauth2/v2.0/token", 400, "invalid_request", 90002 },
      { {}, emu.url .. "/common/oauth2/v2.0/token", 400, "invalid_request", 9001023 },
      { { scope = "https://graph.microsoft.com/User.Read" }, nil, 400, "invalid_scope", 1002012 },
      { { scope = "a b" }, nil, 400, "invalid_scope", 70011 },
      { { scope = "https://microsoftgraph.chinacloudapi.cn/.default" }, nil, 400, "invalid_resource", 500011 },
      { { scope = false }, nil, 400, "invalid_request", 900144 },
      { { grant_type = "authorization_code" }, nil, 400, "unsupported_grant_type", 70003 },
    }
    for i, case in ipairs(cases) do
      local form = {}
      for k, v in pairs(base) do form[k] = v end
      for k, v in pairs(case[1]) do form[k] = v ~= false and v or nil end
      local status, body = token_post(form, case[2])
      assert.are.equal(case[3], status, "case " .. i)
      assert.are.equal(case[4], body.error, "case " .. i)
      assert.are.same({ case[5] }, body.error_codes, "case " .. i)
      local tail = "\r\nTrace ID: " .. body.trace_id .. "\r\nCorrelation ID: " .. body.correlation_id
        .. "\r\nTimestamp: " .. body.timestamp
      assert.is_truthy(body.error_description:find("^AADSTS" .. case[5] .. ": "), "case " .. i)
      assert.are.equal(tail, body.error_description:sub(-#tail), "case " .. i)
    end
  end)

  describe("device code", function()
    local function start_login(scope, tenant)
      local status, raw, body = curl("POST", emu.url .. "/" .. (tenant or "organizations") .. "/oauth2/v2.0/devicecode",
        { form = { client_id = emu.client_id, scope = scope or (WRITE .. " offline_access") } })
      assert.are.equal(200, status, raw)
      return body
    end
    local function poll(dc, tenant)
      return token_post({ grant_type = DEVICE_GRANT, client_id = emu.client_id, device_code = dc.device_code },
        emu.url .. "/" .. (tenant or "organizations") .. "/oauth2/v2.0/token")
    end
    local function polls_of(dc)
      local out = {}
      for _, p in ipairs(emu:state().identity.device_code.polls) do
        if p.user_code == dc.user_code then out[#out + 1] = p end
      end
      return out
    end

    it("is approved after several polls spaced by the interval", function()
      emu:configure{ device_code = { approve_after = 3 } }
      local dc = start_login()
      assert.are.equal(5, dc.interval)
      local status, body
      for _ = 1, 3 do
        status, body = poll(dc)
        assert.are.equal(400, status)
        assert.are.equal("authorization_pending", body.error)
        emu:configure{ advance = dc.interval } -- wait the interval on the emulated clock
      end
      status, body = poll(dc)
      emu:configure{ device_code = { approve_after = false } }
      assert.are.equal(200, status)
      assert.are.equal(WRITE, claims_of(body.access_token).scp)
      assert.are.equal(200, (graph(body.access_token)))
      local polls = polls_of(dc)
      assert.are.equal(4, #polls)
      for i = 2, #polls do assert.is_true(polls[i].time - polls[i - 1].time >= dc.interval) end
      assert.are.equal("success", polls[4].result)
    end)

    it("answers slow_down, and the wait grows by 5 seconds", function()
      local dc = start_login()
      local status, body = poll(dc)
      assert.are.equal(400, status)
      assert.are.equal("authorization_pending", body.error)
      status, body = poll(dc) -- at once: too fast
      assert.are.equal(400, status)
      assert.are.equal("slow_down", body.error)
      emu:configure{ advance = 6 } -- enough for 5 s, not for the 10 s now asked
      assert.are.equal("slow_down", select(2, poll(dc)).error)
      emu:configure{ advance = 16 }
      assert.are.equal("authorization_pending", select(2, poll(dc)).error)
      local intervals = {}
      for _, p in ipairs(polls_of(dc)) do intervals[#intervals + 1] = p.interval end
      assert.are.same({ 5, 10, 15, 15 }, intervals)
      emu:configure{ device_code = { decline = dc.user_code } }
    end)

    it("answers slow_down when configured to, and bad_verification_code for a configured code", function()
      emu:configure{ device_code = { slow_down = 1 } }
      local dc, other = start_login(), start_login()
      local status, body = poll(dc)
      assert.are.equal(400, status)
      assert.are.equal("slow_down", body.error)
      emu:configure{ advance = 11, device_code = { bad_code = dc.user_code } }
      status, body = poll(dc)
      assert.are.equal(400, status)
      assert.are.equal("bad_verification_code", body.error)
      status, body = poll(other) -- another login is not affected, and slow_down was used up
      assert.are.equal(400, status)
      assert.are.equal("authorization_pending", body.error)
      emu:configure{ device_code = { bad_code = false } }
      assert.are.equal("authorization_pending", select(2, poll(dc)).error)
      local results = {}
      for _, p in ipairs(polls_of(dc)) do results[#results + 1] = p.result end
      assert.are.same({ "slow_down", "bad_verification_code", "authorization_pending" }, results)
      emu:configure{ device_code = { decline = true } }
    end)

    it("reports a declined login and an expired code", function()
      local declined, expired = start_login(), start_login()
      emu:configure{ device_code = { decline = declined.user_code } }
      local status, body = poll(declined)
      assert.are.equal(400, status)
      assert.are.equal("authorization_declined", body.error)
      emu:configure{ advance = 901 }
      status, body = poll(expired)
      assert.are.equal(400, status)
      assert.are.equal("expired_token", body.error)
      status, body = poll({ device_code = "DAQABIQEAAADunknown" })
      assert.are.equal(400, status)
      assert.are.equal("bad_verification_code", body.error)
    end)

    it("rotates refresh tokens", function()
      local dc = start_login()
      emu:configure{ device_code = { approve = dc.user_code } }
      local status, body = poll(dc)
      assert.are.equal(200, status)
      local rt1 = body.refresh_token
      status, body = token_post({ grant_type = "refresh_token", client_id = emu.client_id, refresh_token = rt1,
        scope = "https://graph.microsoft.com/" .. WRITE .. " offline_access" })
      assert.are.equal(200, status)
      local rt2 = body.refresh_token
      assert.are_not.equal(rt1, rt2)
      assert.are.equal(200, (graph(body.access_token)))
      status, body = token_post({ grant_type = "refresh_token", client_id = emu.client_id, refresh_token = rt1 })
      assert.are.equal(400, status)
      assert.are.equal("invalid_grant", body.error)
      status = token_post({ grant_type = "refresh_token", client_id = emu.client_id, refresh_token = rt2 })
      assert.are.equal(200, status)
      assert.is_true(emu:state().identity.refresh_tokens_rotated >= 2)
    end)

    it("signs a personal account in, whose token Graph refuses", function()
      local dc = start_login(WRITE, "consumers")
      emu:configure{ device_code = { approve = dc.user_code, user = "someone@outlook.com" } }
      local status, body = poll(dc, "consumers")
      assert.are.equal(200, status)
      local gstatus, gbody = graph(body.access_token)
      assert.are.equal(401, gstatus)
      assert.are.equal("InvalidAuthenticationToken", gbody.error.code)
      assert.is_truthy(gbody.error.message:find("Personal Microsoft accounts", 1, true))
    end)
  end)

  it("serves managed identity tokens (IDENTITY_ENDPOINT and IMDS)", function()
    local url = emu.url .. "/msi/token?api-version=2019-08-01&resource=" .. urlencode("https://graph.microsoft.com/")
    local status, raw, body = curl("GET", url, { headers = { ["X-IDENTITY-HEADER"] = "e2e-identity-header" } })
    assert.are.equal(200, status, raw)
    assert.are.equal("Bearer", body.token_type)
    assert.is_truthy(body.expires_on:match("^%d+$"))
    assert.are.equal(emu.url and "https://graph.microsoft.com/", body.resource)
    assert.are.equal(200, (graph(body.access_token)))
    status, raw = curl("GET", url, { headers = { ["X-IDENTITY-HEADER"] = "guess" } })
    assert.are.equal(401, status)
    bodies[#bodies + 1] = raw
    status, raw, body = curl("GET", emu.url .. "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
      .. urlencode("https://graph.microsoft.com"), { headers = { Metadata = "true" } })
    assert.are.equal(200, status, raw)
    assert.are.equal(200, (graph(body.access_token)))
    status = curl("GET", emu.url .. "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
      .. urlencode("https://graph.microsoft.com"))
    assert.are.equal(400, status)
  end)

  it("publishes its own endpoints in the OpenID configuration", function()
    local status, _, body = curl("GET", emu.url .. "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert.are.equal(200, status)
    assert.are.equal(emu.url .. "/contoso.onmicrosoft.com/oauth2/v2.0/token", body.token_endpoint)
    assert.are.equal(emu.url .. "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode", body.device_authorization_endpoint)
  end)

  it("never puts a secret or token in an error body or the state", function()
    assert.is_true(#bodies > 10)
    local text = table.concat(bodies, "\n") .. assert(cjson.encode(emu:state()))
    text = text:gsub("\\/", "/")
    for _, s in ipairs({ emu.client_secret, "e2e-identity-header", "not-the-secret", "guess" }) do
      assert.is_falsy(text:find(s, 1, true), "found " .. s)
    end
    assert.is_falsy(text:find("eyJ", 1, true)) -- no JWT (token or assertion) anywhere
    assert.is_falsy(text:find("DAQABIQEAAAD", 1, true)) -- no device code
    assert.is_falsy(text:find("1.AQ", 1, true)) -- no refresh token
  end)
end)
