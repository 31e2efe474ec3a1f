-- core.signer, core.client_assertion and core.certificate_thumbprints (src/certificate.c, src/signer.c),
-- checked against the openssl command-line tool: real keys, real signatures, real verification.
local core = require "autopilot.core"
local cjson = require("cjson.safe").new()
local files = require "files"
local shell = require "shell"
local tls = require "tls"

local PASS = "s3cret-Passphrase-7f3a"
local AUD = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
local CLIENT = "11111111-2222-3333-4444-555555555555"

local q, sh, sh_ok = shell.quote, shell.check, shell.ok
local slurp, spit = files.slurp, files.write

describe("client assertions", function()
  local dir, pem = nil, {}

  local function p(name) return dir .. "/" .. name end

  -- base64url text -> bytes, decoded by openssl rather than by our own code
  local function b64url_decode(s)
    local std = s:gsub("-", "+"):gsub("_", "/")
    std = std .. string.rep("=", (4 - #std % 4) % 4)
    spit(p("in.b64"), std)
    sh("openssl base64 -d -A -in " .. q(p("in.b64")) .. " -out " .. q(p("out.bin")))
    return slurp(p("out.bin"))
  end

  local function split(jwt)
    local h, c, s = jwt:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
    assert(h, "not a compact JWS: three base64url parts expected")
    return h, c, s
  end

  local function decode(jwt)
    local h, c = split(jwt)
    return assert(cjson.decode(b64url_decode(h))), assert(cjson.decode(b64url_decode(c)))
  end

  -- Verifies the JWS signature with `openssl dgst`, as PSS (salt = digest length) or PKCS#1 v1.5.
  local function verifies(jwt, pub, pss)
    local h, c, s = split(jwt)
    spit(p("input.txt"), h .. "." .. c)
    spit(p("sig.bin"), b64url_decode(s))
    local opts = pss and "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -sigopt rsa_mgf1_md:sha256 " or ""
    return sh_ok("openssl dgst -sha256 -verify " .. q(pub) .. " -signature " .. q(p("sig.bin")) .. " " .. opts
      .. q(p("input.txt")))
  end

  local function cert_thumb(cert, digest)
    local b64 = shell.run("openssl x509 -in " .. q(cert) .. " -outform DER | openssl dgst -" .. digest
      .. " -binary | openssl base64 -A")
    return (b64:gsub("%s", ""):gsub("=+$", ""):gsub("%+", "-"):gsub("/", "_"))
  end

  local function opts(extra)
    local o = { cert = pem.cert, key = pem.key, client_id = CLIENT, audience = AUD }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  setup(function()
    dir = files.tempdir()
    -- a certificate and key pair made with openssl req: { key = file, cert = file, newkey =, passphrase = }
    local function self_signed(o)
      assert(tls.self_signed(dir, nil, { cn = "autopilot-spec", days = 30, key = p(o.key), crt = p(o.cert),
        newkey = o.newkey, passphrase = o.passphrase }))
    end
    self_signed { key = "key.pem", cert = "cert.pem" }
    sh("openssl x509 -in " .. q(p("cert.pem")) .. " -pubkey -noout -out " .. q(p("pub.pem")))
    self_signed { key = "enc.pem", cert = "enc_cert.pem", passphrase = PASS }
    sh("openssl x509 -in " .. q(p("enc_cert.pem")) .. " -pubkey -noout -out " .. q(p("enc_pub.pem")))
    sh("openssl rsa -in " .. q(p("key.pem")) .. " -aes256 -traditional -passout pass:" .. PASS .. " -out "
      .. q(p("trad.pem")))
    sh("openssl genrsa -out " .. q(p("other.pem")) .. " 2048")
    self_signed { key = "ec_key.pem", cert = "ec_cert.pem", newkey = "ec -pkeyopt ec_paramgen_curve:P-256" }
    self_signed { key = "small_key.pem", cert = "small_cert.pem", newkey = "rsa:1024" }
    for _, name in ipairs { "key", "cert", "enc", "enc_cert", "trad", "other", "ec_key", "ec_cert",
                             "small_key", "small_cert" } do
      pem[name] = slurp(p(name .. ".pem"))
    end
  end)

  teardown(function()
    files.remove(dir)
  end)

  it("is registered by autopilot.core", function()
    assert.is_function(core.client_assertion, "autopilot.core does not call ap_open_certificate")
    assert.is_function(core.signer)
    assert.is_function(core.certificate_thumbprints)
  end)

  it("signs PS256 by default with x5t#S256, verifiable as RSA-PSS and not as PKCS#1 v1.5", function()
    local jwt = assert(core.client_assertion(opts()))
    assert.is_nil(jwt:find("[=+/]"))
    local header = decode(jwt)
    assert.same({ alg = "PS256", typ = "JWT", ["x5t#S256"] = cert_thumb(p("cert.pem"), "sha256") }, header)
    assert.is_true(verifies(jwt, p("pub.pem"), true))
    assert.is_false(verifies(jwt, p("pub.pem"), false))
  end)

  it("signs RS256 with x5t (SHA-1), verifiable as PKCS#1 v1.5 and not as RSA-PSS", function()
    local jwt = assert(core.client_assertion(opts { alg = "RS256" }))
    local header = decode(jwt)
    assert.same({ alg = "RS256", typ = "JWT", x5t = cert_thumb(p("cert.pem"), "sha1") }, header)
    assert.is_true(verifies(jwt, p("pub.pem"), false))
    assert.is_false(verifies(jwt, p("pub.pem"), true))
    -- RS256 is deterministic: the same input gives the same signature; only the jti differs here
    local jwt2 = assert(core.client_assertion(opts { alg = "RS256" }))
    assert.are_not.equal(jwt, jwt2)
  end)

  it("fails verification once a claim is changed", function()
    local jwt = assert(core.client_assertion(opts { now = 1700000000 }))
    local h, c, s = split(jwt)
    local claims = assert(cjson.decode(b64url_decode(c)))
    claims.exp = claims.exp + 3600
    spit(p("claims.json"), cjson.encode(claims))
    local forged = shell.run("openssl base64 -A -in " .. q(p("claims.json"))):gsub("=+$", ""):gsub("%+", "-")
      :gsub("/", "_")
    assert.is_true(verifies(h .. "." .. c .. "." .. s, p("pub.pem"), true))
    assert.is_false(verifies(h .. "." .. forged .. "." .. s, p("pub.pem"), true))
    assert.is_false(verifies(jwt, p("enc_pub.pem"), true))
  end)

  it("carries aud, iss = sub = client_id, a v4 GUID jti, nbf = iat = now and exp = now + lifetime", function()
    local _, claims = decode(assert(core.client_assertion(opts { now = 1700000000, lifetime = 300 })))
    assert.equal(AUD, claims.aud)
    assert.equal(CLIENT, claims.iss)
    assert.equal(CLIENT, claims.sub)
    assert.truthy(claims.jti:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"))
    assert.equal(1700000000, claims.nbf)
    assert.equal(1700000000, claims.iat)
    assert.equal(1700000300, claims.exp)
    local n = 0
    for _ in pairs(claims) do n = n + 1 end
    assert.equal(7, n)
  end)

  it("defaults to the current time and a 600-second lifetime", function()
    local before = os.time()
    local _, claims = decode(assert(core.client_assertion(opts())))
    local after = os.time()
    assert.is_true(claims.nbf >= before and claims.nbf <= after)
    assert.equal(claims.nbf, claims.iat)
    assert.equal(600, claims.exp - claims.nbf)
  end)

  it("gives every assertion a fresh jti", function()
    local seen = {}
    for _ = 1, 200 do
      local _, claims = decode(assert(core.client_assertion(opts { alg = "RS256", now = 1700000000 })))
      assert.is_nil(seen[claims.jti])
      seen[claims.jti] = true
    end
  end)

  it("escapes strings in the JSON it builds", function()
    local odd = 'https://x/"quoted"\\back\nline\1'
    local _, claims = decode(assert(core.client_assertion(opts { audience = odd, client_id = 'a"b\\c' })))
    assert.equal(odd, claims.aud)
    assert.equal('a"b\\c', claims.iss)
  end)

  it("reads encrypted keys with their passphrase (PKCS#8 and traditional)", function()
    local jwt = assert(core.client_assertion(opts { cert = pem.enc_cert, key = pem.enc, passphrase = PASS }))
    assert.is_true(verifies(jwt, p("enc_pub.pem"), true))
    jwt = assert(core.client_assertion(opts { key = pem.trad, passphrase = PASS, alg = "RS256" }))
    assert.is_true(verifies(jwt, p("pub.pem"), false))
  end)

  it("accepts one PEM text holding both the certificate and the key", function()
    local both = pem.key .. pem.cert
    local jwt = assert(core.client_assertion(opts { cert = both, key = both }))
    assert.is_true(verifies(jwt, p("pub.pem"), true))
  end)

  describe("errors", function()
    local cases = {
      { "a missing passphrase", { cert = "enc_cert", key = "enc" }, "encrypted: a passphrase is required" },
      { "a wrong passphrase", { cert = "enc_cert", key = "enc", passphrase = PASS .. "x" }, "wrong passphrase" },
      { "a wrong passphrase (traditional)", { key = "trad", passphrase = "not-" .. PASS }, "wrong passphrase" },
      { "a key of another certificate", { key = "other", passphrase = PASS }, "does not match the certificate" },
      { "garbage as key", { key = "garbage " .. PASS, passphrase = PASS }, "private key: not PEM text" },
      { "garbage as certificate", { cert = "garbage", passphrase = PASS }, "certificate: not PEM text" },
      { "a path instead of PEM", { key = "/etc/autopilot/key.pem", passphrase = PASS }, "not PEM text" },
      { "a damaged key", { key = "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n",
                           passphrase = PASS }, "unreadable private key" },
      { "a damaged certificate", { cert = "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n" },
        "unreadable certificate" },
      { "a certificate as key", { key = "cert", passphrase = PASS }, "no %-%-%-%-%-BEGIN PRIVATE KEY" },
      { "a key as certificate", { cert = "key" }, "no %-%-%-%-%-BEGIN CERTIFICATE" },
      { "an EC key", { key = "ec_key", passphrase = PASS }, "not an RSA key %(EC%)" },
      { "an EC certificate", { cert = "ec_cert", key = "ec_key" }, "EC key: only RSA certificates" },
      { "a 1024-bit key", { cert = "small_cert", key = "small_key" }, "1024 bits: Microsoft Entra requires" },
    }
    for _, case in ipairs(cases) do
      local name, o, want = case[1], case[2], case[3]
      it("names " .. name .. " and never the passphrase or key material", function()
        local o2 = {}
        for k, v in pairs(o) do o2[k] = (k ~= "passphrase" and pem[v]) or v end
        local jwt, err = core.client_assertion(opts(o2))
        assert.is_nil(jwt)
        assert.is_string(err)
        assert.truthy(err:find(want), err)
        assert.is_nil(err:find(PASS, 1, true))
        assert.is_nil(err:find("MII", 1, true))
      end)
    end

    it("raises on programmer errors", function()
      local bad = {
        { { foo = 1 }, "unknown option 'foo'" },
        { { cert = false }, "option 'cert' must be a string (got nil)" },
        { { lifetime = 601 }, "option 'lifetime' must be an integer between 1 and 600 (got 601)" },
        { { lifetime = 0 }, "option 'lifetime' must be an integer between 1 and 600 (got 0)" },
        { { lifetime = 1.5 }, "'lifetime' must be an integer" },
        { { now = "soon" }, "'now' must be an integer" },
        { { alg = "HS256" }, "option 'alg' must be \"PS256\" or \"RS256\"" },
        { { client_id = "" }, "option 'client_id' must not be empty" },
        { { passphrase = 42 }, "'passphrase' must be a string" },
      }
      for _, b in ipairs(bad) do
        local o = opts()
        for k, v in pairs(b[1]) do
          if v == false then o[k] = nil else o[k] = v end
        end
        local ok, err = pcall(core.client_assertion, o)
        assert.is_false(ok)
        assert.truthy(tostring(err):find(b[2], 1, true), tostring(err))
      end
      assert.has_error(function() core.client_assertion("cert") end)
    end)
  end)

  describe("certificate_thumbprints", function()
    it("matches openssl's SHA-1 and SHA-256 of the DER certificate", function()
      local t = assert(core.certificate_thumbprints(pem.cert))
      assert.equal(cert_thumb(p("cert.pem"), "sha1"), t.sha1)
      assert.equal(cert_thumb(p("cert.pem"), "sha256"), t.sha256)
      assert.equal(30 * 86400, t.not_after - t.not_before)
    end)

    it("uses the first certificate of a PEM bundle", function()
      local t = assert(core.certificate_thumbprints(pem.key .. pem.enc_cert .. pem.cert))
      assert.equal(cert_thumb(p("enc_cert.pem"), "sha256"), t.sha256)
    end)

    it("returns nil and a message for what is not a certificate", function()
      local t, err = core.certificate_thumbprints("not a certificate")
      assert.is_nil(t)
      assert.truthy(err:find("not PEM text", 1, true))
      t, err = core.certificate_thumbprints(pem.key)
      assert.is_nil(t)
      assert.truthy(err:find("no -----BEGIN CERTIFICATE", 1, true))
      assert.has_error(function() core.certificate_thumbprints(nil) end)
    end)
  end)

  describe("signer", function()
    it("parses a certificate and key once, and a session takes it over", function()
      local g = assert(core.signer { cert = pem.cert, key = pem.key, alg = "RS256" })
      assert.equal("autopilot.Signer (RS256)", tostring(g))
      local auth = { kind = "certificate", token_url = "http://127.0.0.1:1/t", client_id = CLIENT, signer = g }
      local s = core.session { auth = auth }
      assert.equal("autopilot.Signer (taken by a session)", tostring(g))
      assert.equal("certificate", s:token_info().flow)
      assert.has_error(function() core.session { auth = auth } end, "auth.signer was taken by another session already")
      s:close()
      assert.has_error(function()
        core.session { auth = { kind = "certificate", token_url = "http://127.0.0.1:1/t", client_id = CLIENT,
                                signer = "pem" } }
      end, "auth.signer must be an autopilot.Signer (got string)")
    end)

    it("reports an unusable certificate, key or passphrase as nil and a message", function()
      for _, case in ipairs {
        { { cert = pem.cert, key = pem.other }, "does not match the certificate" },
        { { cert = pem.enc_cert, key = pem.enc }, "a passphrase is required" },
        { { cert = pem.enc_cert, key = pem.enc, passphrase = "wrong" }, "wrong passphrase" },
        { { cert = pem.small_cert, key = pem.small_key }, "at least 2048" },
        { { cert = "MIIB", key = pem.key }, "not PEM text" },
      } do
        local g, err = core.signer(case[1])
        assert.is_nil(g)
        assert.truthy(err:find(case[2], 1, true), err)
        assert.is_nil(err:find(PASS, 1, true))
      end
      assert(core.signer { cert = pem.enc_cert, key = pem.enc, passphrase = PASS })
      assert.has_error(function() core.signer { cert = pem.cert, key = pem.key, alg = "HS256" } end,
        "option 'alg' must be \"PS256\" or \"RS256\"")
      assert.has_error(function() core.signer { cert = pem.cert } end, "option 'key' must be a string (got nil)")
    end)
  end)
end)
