-- The command line's one table and what is rendered from it: --help, help COMMAND, the man page in the repo,
-- --version; and the pure parts (parsing, connection options, output formats, trace lines).
local commands = require "autopilot.cli.commands"
local args = require "autopilot.cli.args"
local help = require "autopilot.cli.help"
local session = require "autopilot.cli.session"
local output = require "autopilot.cli.output"
local trace = require "autopilot.cli.trace"
local messages = require "autopilot.cli.messages"
local shell = require "shell"
local files = require "files"
local paths = require "paths"

local function cli(argv)
  local out, status = shell.run("env " .. paths.env() .. " lua5.4 bin/autopilot " .. argv .. " 2>/dev/null </dev/null")
  return out, status
end

describe("autopilot CLI help", function()
  it("keeps doc/autopilot.1 the same as `autopilot --man` (regenerate: lua5.4 bin/autopilot --man > "
    .. "doc/autopilot.1)", function()
    local out, status = cli("--man")
    assert.equal(0, status)
    assert.equal(files.slurp("doc/autopilot.1"), out)
  end)

  it("lists every command, global flag, variable and exit status in --help and the man page", function()
    local usage, status = cli("--help")
    assert.equal(0, status)
    local man = files.slurp("doc/autopilot.1")
    for _, c in ipairs(commands.COMMANDS) do
      assert.matches("\n  " .. c.name .. " ", usage, 1, true)
      assert.matches(".SS " .. c.name, man, 1, true)
    end
    for _, f in ipairs(commands.GLOBAL) do assert.matches("  " .. f[1], usage, 1, true) end
    for _, e in ipairs(commands.ENVIRONMENT) do
      assert.matches(e[1], usage, 1, true)
      assert.matches(e[1], man, 1, true)
    end
    for _, code in ipairs { 0, 1, 2, 130, 143 } do
      assert.matches("\n  " .. code .. " ", usage, 1, true)
      assert.matches("\\fB" .. code .. "\\fR", man, 1, true)
    end
  end)

  it("gives each command's flags through `help COMMAND` and `COMMAND --help`, exit 0", function()
    for _, c in ipairs(commands.COMMANDS) do
      local a, sa = cli("help " .. c.name)
      local b, sb = cli(c.name .. " --help")
      assert.equal(0, sa)
      assert.equal(0, sb)
      assert.equal(a, b)
      assert.equal(help.command(c) .. "\n", a)
      for _, f in ipairs(c.flags) do assert.matches("  " .. f[1], a, 1, true) end
    end
    local _, status = cli("help frobnicate")
    assert.equal(2, status)
  end)

  it("prints the module's version with --version", function()
    local out, status = cli("--version")
    assert.equal(0, status)
    local core = require "autopilot.core"
    assert.equal("autopilot (lua-autopilot " .. core._VERSION .. ", libcurl " .. core.curl_version .. ")\n", out)
  end)
end)

describe("autopilot.cli.args", function()
  it("takes flags before and after the command, --flag=value, and -- before words", function()
    local p = assert(args.parse { "--beta", "list", "--group-tag=Kiosk", "--top", "5" })
    assert.equal("list", p.command.name)
    assert.same({ beta = true, group_tag = "Kiosk", top = "5" }, p.flags)
    p = assert(args.parse { "unassign", "--", "--not-a-flag" })
    assert.same({ "--not-a-flag" }, p.words)
  end)

  it("refuses unknown flags, another command's flag, a missing value, a value on a switch", function()
    local cases = {
      { { "list", "--bogus" }, "unknown option --bogus" },
      { { "delete", "--top", "3", "x" }, "--top is not an option of 'delete'" },
      { { "list", "--top" }, "--top needs a value" },
      { { "list", "--json=yes" }, "--json takes no value" },
      { { "frobnicate" }, "unknown command 'frobnicate'" },
      { { "--upn", "x" }, "--upn belongs after a command" },
      { { "list", "--top", "1", "--top", "2" }, "--top given twice" },
    }
    for _, case in ipairs(cases) do
      local p, err = args.parse(case[1])
      assert.is_nil(p)
      assert.matches(case[2], err, 1, true)
    end
  end)

  it("checks whole numbers", function()
    assert.equal(4, args.integer("4", "--top", 1, 10))
    assert.is_nil(args.integer(nil, "--top", 1, 10))
    for _, bad in ipairs { "0", "11", "2.5", "x", "" } do
      local n, err = args.integer(bad, "--top", 1, 10)
      assert.is_nil(n)
      assert.matches("--top needs a whole number from 1 to 10", err, 1, true)
    end
  end)
end)

describe("autopilot.cli.session", function()
  local function env(t) return function(k) return t[k] end end
  local none = function() return false end

  it("reads the Graph and login URLs from flags, then AUTOPILOT_GRAPH_URL / AUTOPILOT_LOGIN_URL", function()
    local e = { AUTOPILOT_ACCESS_TOKEN = "t", AUTOPILOT_GRAPH_URL = "http://127.0.0.1:1",
                AUTOPILOT_LOGIN_URL = "http://127.0.0.1:2" }
    local o = assert(session.options({}, { getenv = env(e), exists = none }))
    assert.equal("http://127.0.0.1:1", o.graph_url)
    assert.equal("http://127.0.0.1:2", o.login_url)
    o = assert(session.options({ graph_url = "http://127.0.0.1:3" }, { getenv = env(e), exists = none }))
    assert.equal("http://127.0.0.1:3", o.graph_url)
  end)

  it("refuses a Graph other than Microsoft's without a login URL, for any sign-in but a given token", function()
    local e = { AZURE_TENANT_ID = "contoso.onmicrosoft.com", AZURE_CLIENT_ID = "c", AZURE_CLIENT_SECRET = "s" }
    local o, err, status = session.options({ graph_url = "http://127.0.0.1:9" }, { getenv = env(e), exists = none })
    assert.is_nil(o)
    assert.equal(2, status)
    assert.matches("--graph-url names a Graph other than Microsoft's: give --login-url", err, 1, true)
    assert.not_matches("AZURE_CLIENT_SECRET=", err, 1, true)
    e.AUTOPILOT_GRAPH_URL = "http://127.0.0.1:9"
    o, err = session.options({}, { getenv = env(e), exists = none })
    assert.is_nil(o)
    assert.matches("AUTOPILOT_GRAPH_URL names a Graph", err, 1, true)
    assert.truthy(session.options({ graph_url = "https://graph.microsoft.com/" }, { getenv = env(e), exists = none }))
    assert.truthy(session.options({ graph_url = "http://127.0.0.1:9" },
      { getenv = env { AUTOPILOT_ACCESS_TOKEN = "t" }, exists = none }))
  end)

  it("refuses a Graph URL with the API version in it, naming the fix", function()
    local e = { AUTOPILOT_ACCESS_TOKEN = "t" }
    local o, err, status = session.options({ graph_url = "https://graph.microsoft.com/v1.0" },
      { getenv = env(e), exists = none })
    assert.is_nil(o)
    assert.equal(2, status)
    assert.matches("drop '/v1.0'", err, 1, true)
    local _, berr = session.options({ graph_url = "https://graph.microsoft.com/beta/" },
      { getenv = env(e), exists = none })
    assert.matches("drop '/beta' and give --beta", berr, 1, true)
  end)

  it("signs in from login's token cache when no other credentials are set, and says what to do otherwise",
    function()
    local o = assert(session.options({}, { getenv = env { AUTOPILOT_TOKEN_CACHE = "/x/t.json" },
                                           exists = function(p) return p == "/x/t.json" end }))
    assert.equal("/x/t.json", o.token_cache)
    local _, err, status = session.options({}, { getenv = env {}, exists = none })
    assert.equal(1, status)
    assert.matches("no credentials: set AZURE_TENANT_ID", err, 1, true)
    assert.matches("autopilot login", err, 1, true)
    assert.not_matches("access_token", err, 1, true)
  end)

  it("puts login's cache under XDG_CACHE_HOME, else ~/.cache", function()
    assert.equal("/c/lua-autopilot/tokens.json", session.token_cache_path(env { XDG_CACHE_HOME = "/c", HOME = "/h" }))
    assert.equal("/h/.cache/lua-autopilot/tokens.json", session.token_cache_path(env { HOME = "/h" }))
  end)
end)

describe("autopilot.cli.output", function()
  local devices = {
    { id = "a", serialNumber = "S1", userPrincipalName = "u@x", groupTag = "=cmd", model = "M" },
    { id = "b", serialNumber = "S,2", userPrincipalName = "", groupTag = "", model = "Long model" },
  }

  it("renders a table, CSV (formula cells quoted), a JSON array and JSON lines, with chosen columns", function()
    local cols = { "id", "serialNumber", "groupTag" }
    assert.equal("id  serialNumber  groupTag\na   S1            =cmd\nb   S,2           \n",
      output.render(devices, "table", cols, true))
    assert.equal("id,serialNumber,groupTag\na,S1,'=cmd\nb,\"S,2\",\n", output.render(devices, "csv", cols, true))
    local json = require "cjson"
    assert.same({ { id = "a", serialNumber = "S1", groupTag = "=cmd" }, { id = "b", serialNumber = "S,2",
      groupTag = "" } }, json.decode(output.render(devices, "json", cols, true)))
    local lines = {}
    for l in output.render(devices, "jsonl", cols, false):gmatch("[^\n]+") do lines[#lines + 1] = json.decode(l) end
    assert.same(devices, lines)
    assert.equal("[]\n", output.render({}, "json", cols, false))
  end)

  it("checks --columns", function()
    assert.same({ "id", "model" }, output.columns(" id , model"))
    local c, err = output.columns("id,,model")
    assert.is_nil(c)
    assert.matches("--columns takes Graph property names", err, 1, true)
  end)
end)

describe("autopilot.cli.trace", function()
  it("names method, URL, status, request-id, attempts and time; never headers or bodies", function()
    local line = trace.line("GET", "http://127.0.0.1:1/v1.0/x", { status = 200, attempts = 2, body = "secret-body",
      headers = { ["request-id"] = "rid-1", authorization = "Bearer tok" } }, 0.25)
    assert.equal("> GET http://127.0.0.1:1/v1.0/x -> 200 request-id=rid-1 attempts=2 0.250s", line)
    line = trace.line("POST", "u", { transport = { code = "COULDNT_CONNECT" }, headers = {} }, 0)
    assert.matches("-> transport COULDNT_CONNECT request-id=-", line, 1, true)
  end)
end)

describe("autopilot.cli.messages", function()
  it("names flags, variables and commands instead of connect's options", function()
    local errors = require "autopilot.errors"
    local cases = {
      { "graph_url must be an http(s) URL, got 'ftp://x'", "--graph-url must be an http(s) URL, got 'ftp://x'" },
      { "no refresh token for this tenant, client and scopes in /t.json: sign in once with device_code = true",
        "no refresh token for this tenant, client and scopes in /t.json: run 'autopilot login'" },
      { "the app needs a client secret or certificate: give client_secret or certificate",
        "the app needs a client secret or certificate: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH" },
      { "the refresh token is no longer valid: sign in again",
        "the refresh token is no longer valid: run 'autopilot login' again" },
      { "this app lives in another cloud: check `cloud` (global, usgov, dod, china)",
        "this app lives in another cloud: check --cloud (global, usgov, dod, china)" },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], messages.cli(c[1])) end
    local err = errors.new { code = "InvalidConfiguration", message = "login_url must be an http(s) URL",
      kind = "input" }
    assert.matches("--login-url must be an http(s) URL", messages.cli(err), 1, true)
    -- the library's own prefix goes: the command line prints "autopilot: " itself
    assert.equal("InvalidConfiguration: --login-url must be an http(s) URL", messages.cli(err))
  end)
end)
