-- The emulator host (C, libmicrohttpd), its Lua facade and its command line, over real sockets on
-- 127.0.0.1 with the curl command line tool as the peer. The app is spec/support/echo_app.lua.
local host = require "autopilot.emulator.host"
local emulator = require "autopilot.emulator"
local json = require("cjson.safe").new()
local files = require "files"
local shell = require "shell"
local tls = require "tls"
local process = require "emulator_process"

local SANITIZED = os.getenv("AUTOPILOT_SANITIZED") == "1"

local q, sh, slurp, spit = shell.quote, shell.run, files.read, files.write

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- curl -i: returns { rc, status, headers (lower-cased), body, raw }.
local function curl(url, args)
  local raw, rc = sh("curl -sS -g -i --max-time 60 " .. (args or "") .. " " .. q(url) .. " 2>/dev/null")
  local res = { rc = rc, raw = raw, headers = {} }
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  if head then
    res.status = tonumber(head:match("^HTTP/[%d.]+ (%d+)"))
    for name, value in head:gmatch("\n([^:\r\n]+):%s*([^\r\n]*)") do res.headers[name:lower()] = value end
    res.body = body
  end
  return res
end

local function start_echo(opts)
  opts = opts or {}
  opts.app = "echo_app"
  local emu, err = emulator.start(opts)
  assert(emu, err)
  return emu
end

describe("emulator host", function()
  local dir

  lazy_setup(function() dir = files.tempdir() end)
  lazy_teardown(function() files.remove(dir) end)

  describe("module", function()
    it("has a version, a monotonic clock and the crypto module", function()
      assert.equal("0.1.0", host._VERSION)
      local a = host.clock()
      local b = host.clock()
      assert.is_number(a)
      assert.is_true(b >= a)
      assert.equal(require("autopilot.emulator.crypto"), host.crypto)
      assert.is_function(host.crypto.sha256)
    end)

    it("raises for bad start options", function()
      assert.has_error(function() host.start() end)
      assert.has_error(function() host.start{ nope = 1 } end, "unknown option 'nope'")
      assert.has_error(function() host.start{ port = 70000 } end)
      assert.has_error(function() host.start{ port = "80" } end)
      assert.has_error(function() host.start{ app = 5 } end)
      assert.has_error(function() host.start{ tls_cert = "x" } end)
    end)

    it("returns nil and a message when the app cannot load or fails to start", function()
      local srv, err = host.start{ app = "no.such.app_module", path = package.path, cpath = package.cpath }
      assert.is_nil(srv)
      assert.matches("no.such.app_module", err, 1, true)
      srv, err = host.start{ app = "echo_app", config = "{not json", path = package.path, cpath = package.cpath }
      assert.is_nil(srv)
      assert.matches("config is not valid JSON", err, 1, true)
    end)

    it("returns nil and a message when the port is taken", function()
      local a = assert(host.start{ app = "echo_app", path = package.path, cpath = package.cpath })
      local b, err = host.start{ app = "echo_app", port = a:port(), path = package.path, cpath = package.cpath }
      assert.is_nil(b)
      assert.is_string(err)
      assert.is_true(#err > 0)
      a:stop()
    end)

    it("calls app methods with JSON in and out, and reports their failures", function()
      local srv <close> = assert(host.start{ app = "echo_app", config = '{"k":"v"}', path = package.path,
        cpath = package.cpath })
      local out = srv:call("state", '{"x":[1,2]}')
      assert.is_string(out)
      local st = json.decode(out)
      assert.same({ k = "v" }, st.config)
      assert.same({ x = { 1, 2 } }, st.arg)
      local r, err = srv:call("nope")
      assert.is_nil(r)
      assert.matches("no method 'nope'", err, 1, true)
      r, err = srv:call("fail")
      assert.is_nil(r)
      assert.matches("failing on purpose", err, 1, true)
      r, err = srv:call("state", "{bad")
      assert.is_nil(r)
      assert.matches("not valid JSON", err, 1, true)
      assert.matches("^autopilot.emulator.host server %(http 127.0.0.1:%d+%)$", tostring(srv))
      srv:stop()
      srv:stop()
      assert.equal("autopilot.emulator.host server (stopped)", tostring(srv))
      assert.has_error(function() srv:call("state") end)
      assert.has_error(function() srv:port() end)
    end)
  end)

  describe("HTTP", function()
    local emu, base

    lazy_setup(function()
      emu = start_echo()
      base = emu.url
    end)
    lazy_teardown(function() emu:stop() end)

    it("round-trips status, headers and body", function()
      local r = curl(base .. "/hello", "-H 'x-reply-status: 418' -H 'x-reply-header: X-Custom: a b c'")
      assert.equal(0, r.rc)
      assert.equal(418, r.status)
      assert.equal("yes", r.headers["x-echo"])
      assert.equal("a b c", r.headers["x-custom"])
      assert.equal("application/json", r.headers["content-type"])
      assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$", r.headers["date"])
      local echo = assert(json.decode(r.body))
      assert.equal("GET", echo.method)
      assert.equal("/hello", echo.target)
      assert.equal("http", echo.scheme)
      assert.equal(tonumber(r.headers["content-length"]), #r.body)
    end)

    it("keeps the raw target, percent-encoding and query included", function()
      local target = "/v1.0/a%20b/c%2Fd/../e?$filter=startswith(serialNumber,%27AB-1%27)&$top=5&x=%2B"
      local r = curl(base .. target, "--path-as-is")
      assert.equal(200, r.status)
      assert.equal(target, json.decode(r.body).target)
    end)

    it("lower-cases request header names and joins repeated ones", function()
      local r = curl(base .. "/h", "-H 'X-Mixed-Case: Value' -H 'client-request-id: abc' -H 'X-Twice: 1' "
        .. "-H 'x-twice: 2'")
      local h = json.decode(r.body).headers
      assert.equal("Value", h["x-mixed-case"])
      assert.equal("abc", h["client-request-id"])
      assert.equal("1, 2", h["x-twice"])
      assert.is_nil(h["X-Mixed-Case"])
    end)

    it("passes a POST body through, binary included", function()
      local body = {}
      for i = 0, 65535 do body[#body + 1] = string.char(i % 256) end
      body = table.concat(body)
      spit(dir .. "/body.bin", body)
      local r = curl(base .. "/post", "--data-binary @" .. q(dir .. "/body.bin")
        .. " -H 'Content-Type: application/octet-stream'")
      assert.equal(200, r.status)
      local echo = json.decode(r.body)
      assert.equal("POST", echo.method)
      assert.equal(#body, #echo.body)
      assert.equal(body, echo.body)
    end)

    it("answers 413 to a body past 8 MiB, without calling the app", function()
      local before = emu:state().requests
      spit(dir .. "/big.bin", string.rep("x", 8 * 1024 * 1024 + 1))
      local out = sh("curl -sS --max-time 60 -o /dev/null -w '%{http_code}' --data-binary @" .. q(dir .. "/big.bin")
        .. " " .. q(base .. "/big") .. " 2>/dev/null")
      assert.equal("413", out)
      -- a chunked body has no Content-Length to refuse early: it is read, dropped, then refused
      out = sh("curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' "
        .. "--data-binary @" .. q(dir .. "/big.bin") .. " " .. q(base .. "/big") .. " 2>/dev/null")
      assert.equal("413", out)
      assert.equal(before, emu:state().requests)
      spit(dir .. "/max.bin", string.rep("y", 8 * 1024 * 1024))
      out = sh("curl -sS --max-time 60 -o /dev/null -w '%{http_code}' --data-binary @" .. q(dir .. "/max.bin")
        .. " " .. q(base .. "/max") .. " 2>/dev/null")
      assert.equal("200", out)
    end)

    it("gzips a non-empty body when the client accepts gzip", function()
      local plain = curl(base .. "/gz")
      assert.is_nil(plain.headers["content-encoding"])
      local r = curl(base .. "/gz", "--compressed")
      assert.equal("gzip", r.headers["content-encoding"])
      assert.equal("Accept-Encoding", r.headers["vary"])
      assert.equal("/gz", json.decode(r.body).target)
      -- the bytes on the wire are a gzip member
      local raw = sh("curl -sS --max-time 60 -H 'Accept-Encoding: gzip' " .. q(base .. "/gz") .. " 2>/dev/null")
      assert.equal("1f8b", hex(raw:sub(1, 2)))
      -- refused with q=0, and never for an empty body
      assert.is_nil(curl(base .. "/gz", "-H 'Accept-Encoding: gzip;q=0, identity'").headers["content-encoding"])
      local empty = curl(base .. "/gz", "--compressed -H 'x-reply-size: 0'")
      assert.equal(200, empty.status)
      assert.is_nil(empty.headers["content-encoding"])
      assert.equal("", empty.body)
    end)

    it("turns an error in the app into a 500 with a Graph error envelope", function()
      local r = curl(base .. "/boom", "-H 'x-reply-error: yes'")
      assert.equal(500, r.status)
      assert.equal("application/json", r.headers["content-type"])
      local e = assert(json.decode(r.body)).error
      assert.equal("InternalServerError", e.code)
      assert.is_string(e.message)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$", e.innerError.date)
      -- and the server keeps serving
      assert.equal(200, curl(base .. "/after").status)
    end)

    it("resets the connection mid-body: headers and part of the body, then RST", function()
      local r = curl(base .. "/reset", "-H 'x-reply-fault: reset' -H 'x-reply-size: 100000'")
      assert.equal(56, r.rc) -- Recv failure: Connection reset by peer
      assert.equal(200, r.status)
      assert.equal("100000", r.headers["content-length"])
      assert.is_true(#r.body > 0 and #r.body < 100000)
    end)

    it("resets at once when there is no body to cut", function()
      local r = curl(base .. "/reset0", "-H 'x-reply-fault: reset' -H 'x-reply-size: 0'")
      assert.equal(56, r.rc)
      r = curl(base .. "/reset204", "-H 'x-reply-fault: reset' -H 'x-reply-status: 204'")
      assert.equal(56, r.rc)
    end)

    it("truncates: the full Content-Length announced, half sent, closed", function()
      local r = curl(base .. "/trunc", "-H 'x-reply-fault: truncate' -H 'x-reply-size: 100000'")
      assert.equal(18, r.rc) -- Partial file
      assert.equal(200, r.status)
      assert.equal("100000", r.headers["content-length"])
      assert.equal(50000, #r.body)
    end)

    it("stalls, then closes without a reply", function()
      local r = curl(base .. "/stall", "-H 'x-reply-fault: stall' -H 'x-reply-delay: 0.3'")
      assert.equal(52, r.rc) -- Empty reply from server
      assert.equal("", r.raw)
    end)

    it("drops the connection without a reply", function()
      local r = curl(base .. "/drop", "-H 'x-reply-fault: drop'")
      assert.equal(52, r.rc)
      assert.equal("", r.raw)
    end)

    it("holds a delayed reply for its delay", function()
      local out = sh("curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{time_starttransfer}' "
        .. "-H 'x-reply-delay: 0.4' " .. q(base .. "/slow") .. " 2>/dev/null")
      local code, t = out:match("^(%d+) ([%d.]+)$")
      assert.equal("200", code)
      assert.is_true(tonumber(t) >= 0.4, "replied before its delay: " .. out)
    end)

    it("keeps 600 delayed replies in flight at once without blocking", function()
      local delay = SANITIZED and 30 or 3
      local before = emu:state().max_in_flight
      assert.is_true(before < 600)
      for part = 1, 2 do
        local f = assert(io.open(dir .. "/wave" .. part, "w"))
        for i = 1, 300 do f:write(('url = "%s/wave/%d/%d"\noutput = "/dev/null"\n'):format(base, part, i)) end
        f:close()
      end
      local one = "curl -sS --max-time 120 --parallel --parallel-immediate --parallel-max 300 -w '%%{http_code}\\n' "
        .. "-H 'x-reply-delay: " .. delay .. "' -H 'x-reply-size: 2' -K %s"
      local cmd = "(" .. one:format(q(dir .. "/wave1")) .. " & " .. one:format(q(dir .. "/wave2"))
        .. " & wait) 2>/dev/null"
      local out = sh(cmd)
      local ok = 0
      for code in out:gmatch("%d+") do
        if code == "200" then ok = ok + 1 end
      end
      assert.equal(600, ok)
      assert.equal(600, emu:state().max_in_flight)
    end)
    it("serves while the caller's thread calls into the app", function()
      local before = emu:state().requests
      local f = assert(io.open(dir .. "/calls", "w"))
      for i = 1, 200 do f:write(('url = "%s/calls/%d"\noutput = "/dev/null"\n'):format(base, i)) end
      f:close()
      os.execute("curl -sS --max-time 60 --parallel --parallel-immediate --parallel-max 50 -H 'x-reply-delay: 0.01' -K "
        .. q(dir .. "/calls") .. " >/dev/null 2>&1 &")
      local seen = before
      for i = 1, 20000 do
        seen = emu:state().requests
        if seen >= before + 200 then break end
        assert.is_true(emu:configure{ poked = seen })
        if i % 20 == 0 then os.execute("sleep 0.05") end
      end
      assert.equal(before + 200, seen)
    end)
  end)

  describe("facade", function()
    it("starts on loopback with the app's credentials and config", function()
      local emu <close> = start_echo{ port = 0, tenant = "t-1", devices = 3, nested = { a = { 1, 2 } } }
      assert.matches("^http://127%.0%.0%.1:%d+$", emu.url)
      assert.equal(emu.url, "http://127.0.0.1:" .. emu.port)
      assert.equal("t-1", emu.tenant)
      assert.equal("echo-client", emu.client_id)
      assert.equal("echo-secret", emu.client_secret)
      local config = emu:state().config
      assert.same({ tenant = "t-1", devices = 3, nested = { a = { 1, 2 } } }, config)
      assert.is_true(emu:configure{ devices = 4 })
      assert.equal(4, emu:state().config.devices)
      assert.equal(200, curl(emu.url .. "/x").status)
    end)

    it("prints its URL and state but never the secret", function()
      local emu = start_echo()
      local s = tostring(emu)
      assert.equal("autopilot.emulator (" .. emu.url .. ", open)", s)
      assert.is_nil(s:find("echo-secret", 1, true))
      emu:stop()
      assert.equal("autopilot.emulator (" .. emu.url .. ", closed)", tostring(emu))
    end)

    it("raises for bad options and refuses non-loopback addresses", function()
      assert.has_error(function() emulator.start(5) end)
      assert.has_error(function() emulator.start{ port = "x" } end)
      assert.has_error(function() emulator.start{ port = 1.5 } end)
      assert.has_error(function() emulator.start{ host = 127 } end)
      assert.has_error(function() emulator.start{ app = true } end)
      assert.has_error(function() emulator.start{ tls_cert = "c" } end)
      assert.has_error(function() emulator.start{ host = "10.0.0.1" } end)
      assert.has_error(function() emulator.start{ host = "0.0.0.0" } end)
      assert.has_error(function() emulator.start{ app = "echo_app", fn = print } end)
    end)

    it("returns nil and a message when it cannot start", function()
      local emu, err = emulator.start{ app = "no.such.app_module" }
      assert.is_nil(emu)
      assert.matches("no.such.app_module", err, 1, true)
      emu, err = emulator.start{ app = "echo_app", tls_cert = dir .. "/missing.pem", tls_key = dir .. "/k.pem" }
      assert.is_nil(emu)
      assert.matches("tls_cert", err, 1, true)
    end)

    it("raises when the app rejects a call or after stop", function()
      local emu = start_echo()
      assert.has_error(function() emu:configure("x") end)
      assert.has_error(function() emu:configure{ [1] = function() end } end)
      emu:stop()
      assert.has_error(function() emu:state() end, "attempt to use a stopped emulator")
    end)

    it("stops idempotently, and the port stops answering", function()
      local emu = start_echo()
      local url = emu.url
      assert.is_true(emu:running())
      emu:stop()
      emu:stop()
      assert.is_false(emu:running())
      assert.equal(7, curl(url .. "/gone").rc) -- Couldn't connect
    end)

    it("stops at the end of a <close> scope, with replies still suspended", function()
      local url
      do
        local emu <close> = start_echo()
        url = emu.url
        -- a reply suspended for a minute must not hold the stop
        os.execute("curl -sS --max-time 60 -o /dev/null -H 'x-reply-delay: 60' " .. q(url .. "/held")
          .. " >/dev/null 2>&1 &")
        for _ = 1, 200 do
          if emu:state().requests > 0 then break end
          os.execute("sleep 0.05")
        end
        assert.equal(1, emu:state().requests)
      end
      assert.equal(7, curl(url .. "/gone").rc)
    end)

    it("stops cleanly while replies are suspended or just resumed", function()
      local f = assert(io.open(dir .. "/burst", "w"))
      for i = 1, 100 do f:write(('url = "/burst/%d"\noutput = "/dev/null"\n'):format(i)) end
      f:close()
      for round = 1, 6 do
        local emu = start_echo()
        os.execute("sed 's#url = \"#url = \"" .. emu.url .. "#' " .. q(dir .. "/burst") .. " > " .. q(dir .. "/burst.k")
          .. "; curl -sS --max-time 30 --parallel --parallel-immediate --parallel-max 100 -H 'x-reply-delay: "
          .. (round % 2 == 0 and "0.01" or "5") .. "' -K " .. q(dir .. "/burst.k") .. " >/dev/null 2>&1 &")
        for _ = 1, 400 do
          if emu:state().requests >= 20 then break end
          os.execute("sleep 0.01")
        end
        assert.is_true(emu:state().requests >= 20)
        local url = emu.url
        emu:stop()
        assert.equal(7, curl(url .. "/gone").rc)
      end
    end)

    it("stops when garbage-collected", function()
      local weak = setmetatable({}, { __mode = "v" })
      local url
      do
        local emu = start_echo()
        url = emu.url
        weak[1] = emu
      end
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
      assert.equal(7, curl(url .. "/gone").rc)
    end)
  end)

  describe("TLS", function()
    lazy_setup(function()
      assert.truthy(tls.self_signed(dir, "tls", { cn = "127.0.0.1", loopback = true }))
    end)

    it("serves HTTPS from PEM files or PEM text", function()
      local emu <close> = start_echo{ tls_cert = dir .. "/tls.crt", tls_key = slurp(dir .. "/tls.key") }
      assert.matches("^https://127%.0%.0%.1:%d+$", emu.url)
      local r = curl(emu.url .. "/secure", "--cacert " .. q(dir .. "/tls.crt"))
      assert.equal(0, r.rc)
      assert.equal(200, r.status)
      assert.equal("https", json.decode(r.body).scheme)
      assert.equal("https", emu:state().config.scheme)
      -- an unknown CA is refused by the client: the certificate is really ours
      assert.equal(60, curl(emu.url .. "/secure").rc)
      local z = curl(emu.url .. "/secure", "--compressed --cacert " .. q(dir .. "/tls.crt"))
      assert.equal("gzip", z.headers["content-encoding"])
    end)
  end)

  describe("crypto", function()
    local crypto = require "autopilot.emulator.crypto"

    it("hashes and MACs", function()
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex(crypto.sha256("abc")))
      assert.equal("a9993e364706816aba3e25717850c26c9cd0d89d", hex(crypto.sha1("abc")))
      assert.equal("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")))
    end)

    it("encodes and decodes base64url without padding", function()
      assert.equal("", crypto.b64url_encode(""))
      assert.equal("Zg", crypto.b64url_encode("f"))
      assert.equal("Zm8", crypto.b64url_encode("fo"))
      assert.equal("Zm9v", crypto.b64url_encode("foo"))
      assert.equal("-_8", crypto.b64url_encode("\xfb\xff"))
      assert.equal("\xfb\xff", crypto.b64url_decode("-_8"))
      for n = 0, 40 do
        local s = crypto.random_bytes(n)
        assert.equal(n, #s)
        assert.equal(s, crypto.b64url_decode(crypto.b64url_encode(s)))
      end
      for _, bad in ipairs{ "Zg=", "Zm9v=", "a", "Z$", "Zh", "Zm+v", "Zm/v", "Zm9 v" } do
        local v, err = crypto.b64url_decode(bad)
        assert.is_nil(v, bad)
        assert.matches("invalid base64url", err)
      end
    end)

    it("gives random bytes", function()
      assert.equal(32, #crypto.random_bytes(32))
      assert.not_equal(crypto.random_bytes(16), crypto.random_bytes(16))
      assert.has_error(function() crypto.random_bytes(-1) end)
    end)

    it("verifies RS256 and PS256 signatures made by the openssl CLI", function()
      local key, crt = dir .. "/sig.key", dir .. "/sig.crt"
      assert.truthy(tls.self_signed(dir, "sig", { cn = "signer" }))
      local data = "eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0"
      spit(dir .. "/data", data)
      assert.equal(0, select(2, sh("openssl dgst -sha256 -sign " .. q(key) .. " -out " .. q(dir .. "/rs.sig")
        .. " " .. q(dir .. "/data") .. " 2>&1")))
      assert.equal(0, select(2, sh("openssl dgst -sha256 -sign " .. q(key) .. " -sigopt rsa_padding_mode:pss "
        .. "-sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha256 -out " .. q(dir .. "/ps.sig") .. " "
        .. q(dir .. "/data") .. " 2>&1")))
      local pem, rs, ps = slurp(crt), slurp(dir .. "/rs.sig"), slurp(dir .. "/ps.sig")
      assert.is_true(crypto.verify(pem, "RS256", data, rs))
      assert.is_true(crypto.verify(pem, "PS256", data, ps))
      assert.is_false(crypto.verify(pem, "RS256", data .. "x", rs))
      assert.is_false(crypto.verify(pem, "PS256", data .. "x", ps))
      assert.is_false(crypto.verify(pem, "PS256", data, rs))
      assert.is_false(crypto.verify(pem, "RS256", data, ps))
      assert.is_false(crypto.verify(pem, "RS256", data, "short"))
      -- another key's certificate does not verify
      assert.truthy(tls.self_signed(dir, "other"))
      assert.is_false(crypto.verify(slurp(dir .. "/other.crt"), "RS256", data, rs))
      -- errors, not false, for what is not a signature question
      local v, err = crypto.verify(pem, "HS256", data, rs)
      assert.is_nil(v)
      assert.matches("unsupported algorithm", err)
      v, err = crypto.verify("not a pem", "RS256", data, rs)
      assert.is_nil(v)
      assert.matches("not a PEM certificate", err)
      assert.truthy(tls.self_signed(dir, "ec", { newkey = "ec -pkeyopt ec_paramgen_curve:prime256v1" }))
      v, err = crypto.verify(slurp(dir .. "/ec.crt"), "RS256", data, rs)
      assert.is_nil(v)
      assert.matches("not an RSA key", err)
      assert.has_error(function() crypto.verify(pem, "RS256", data) end)
    end)

    it("gives a certificate's DER bytes", function()
      local crt = dir .. "/der.crt"
      assert.truthy(tls.self_signed(dir, "der"))
      assert.equal(0, select(2, sh("openssl x509 -in " .. q(crt) .. " -outform DER -out " .. q(dir .. "/der.der")
        .. " 2>&1")))
      assert.equal(slurp(dir .. "/der.der"), crypto.cert_der(slurp(crt)))
      local v, err = crypto.cert_der("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
      assert.is_nil(v)
      assert.matches("not a PEM certificate", err)
    end)
  end)

  describe("command line", function()
    local CLI, spawn, finish = process.CLI, process.spawn, process.finish

    it("prints --help and rejects unknown flags", function()
      local out, rc = sh(CLI .. " --help")
      assert.equal(0, rc)
      assert.matches("--faults SPEC", out, 1, true)
      assert.matches("503=0.05,504=0.02,reset=0.01", out, 1, true)
      local _, bad = sh(CLI .. " --bogus 2>/dev/null")
      assert.equal(2, bad)
      _, bad = sh(CLI .. " --faults 'teapot=0.5' 2>/dev/null")
      assert.equal(2, bad)
      _, bad = sh(CLI .. " --host 10.1.2.3 2>/dev/null")
      assert.equal(2, bad)
    end)

    it("prints the URL first, passes its flags as config, and exits 0 on SIGTERM", function()
      local p = spawn("--app echo_app --port 0 --devices 7 --seed 3 --tenant T1 --client-id C1 "
        .. "--client-secret S1 --latency 30 --throttle --time-scale 10 --faults 503=0.05,504=0.02,reset=0.01 "
        .. "--devices-file /dev/null")
      assert.matches("^http://127%.0%.0%.1:%d+$", p.lines[1])
      assert.equal("tenant: T1", p.lines[2])
      assert.matches("^client_id: ", p.lines[3])
      assert.matches("^client_secret: ", p.lines[4])
      local r = curl(p.lines[1] .. "/config")
      assert.same({ devices = 7, seed = 3, tenant = "T1", client_id = "C1", client_secret = "S1", latency = 30,
        throttle = true, time_scale = 10, devices_file = "/dev/null",
        faults = { ["503"] = 0.05, ["504"] = 0.02, reset = 0.01 } }, json.decode(r.body))
      -- an app error is one line on stderr, with no query string
      assert.equal(500, curl(p.lines[1] .. "/fails?code=secret", "-H 'x-reply-error: 1'").status)
      local rc, err = finish(p, "TERM")
      assert.equal(0, rc)
      local lines = {}
      for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.matches("^autopilot%-emulator: app error on GET /fails: ", lines[1])
      assert.is_nil(err:find("secret", 1, true))
      assert.equal("autopilot-emulator: SIGTERM, stopping", lines[2])
    end)

    it("exits 0 on SIGINT too", function()
      local p = spawn("--app echo_app")
      assert.matches("^http://127%.0%.0%.1:%d+$", p.lines[1])
      local rc = finish(p, "INT")
      assert.equal(0, rc)
    end)
  end)
end)
