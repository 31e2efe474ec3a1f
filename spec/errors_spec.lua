local errors = require "autopilot.errors"
local cjson = require("cjson.safe").new()

local function graph_result(status, code, message, headers)
  return { status = status, attempts = 1, headers = headers or { ["request-id"] = "rid-1" },
           body = cjson.encode { error = { code = code, message = message,
                                           innerError = { date = "2022-09-11T22:17:16", ["request-id"] = "rid-1" } } } }
end

describe("autopilot.errors.from_result", function()
  it("returns nil for a 2xx result", function()
    assert.is_nil(errors.from_result { status = 204, attempts = 1, headers = {} })
    assert.is_nil(errors.from_result { status = 200, body = "{}", attempts = 1, headers = {} })
  end)

  it("unwraps Intune's nested JSON message and keeps the raw text", function()
    local inner = cjson.encode { _version = 3, Message = "An error has occurred - Operation ID: 0 - Activity ID: x",
                                 CustomApiErrorPhrase = "", RetryAfter = cjson.null, ErrorSourceService = "",
                                 HttpHeaders = "{}" }
    local err = errors.from_result(graph_result(400, "BadRequest", inner))
    assert.equal(400, err.status)
    assert.equal("BadRequest", err.code)
    assert.equal("An error has occurred - Operation ID: 0 - Activity ID: x", err.message)
    assert.equal(inner, err.raw_message)
    assert.equal("rid-1", err.request_id)
    assert.matches("^autopilot: 400 BadRequest: An error has occurred", tostring(err))
    assert.is_nil(tostring(err):find("\n"))
  end)

  it("keeps Intune's nested ErrorCode under an UnknownError", function()
    local err = errors.from_result(graph_result(403, "UnknownError",
      cjson.encode { ErrorCode = "Forbidden", Message = "Application is not authorized" }))
    assert.equal("UnknownError", err.code)
    assert.equal("Forbidden", err.inner_code)
    assert.equal("Application is not authorized", err.message)
  end)

  it("describes a transport failure by curl's error name", function()
    local err = errors.from_result { transport = { code = "COULDNT_CONNECT", message = "Failed to connect" },
                                     attempts = 3 }
    assert.is_nil(err.status)
    assert.equal("COULDNT_CONNECT", err.code)
    assert.equal("autopilot: COULDNT_CONNECT: Failed to connect [3 attempts]", tostring(err))
  end)

  it("reports a token endpoint failure with its AADSTS code and a hint, on one line", function()
    local body = cjson.encode {
      error = "invalid_client",
      error_description = "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t1\r\nCorrelation ID: c1",
      error_codes = { 7000215 }, trace_id = "t1", correlation_id = "c1", timestamp = "2026-01-01 00:00:00Z" }
    local err = errors.from_result { auth = { status = 401, body = body }, attempts = 1 }
    assert.equal("invalid_client", err.code)
    assert.equal(7000215, err.aadsts)
    assert.equal("t1", err.trace_id)
    assert.matches("client secret is wrong", err.hint)
    assert.is_nil(tostring(err):find("[\r\n]"))
  end)

  it("copes with bodies that are not JSON", function()
    local err = errors.from_result { status = 502, body = "<html>bad gateway", attempts = 1, headers = {} }
    assert.equal(502, err.status)
    assert.equal("InvalidResponse", err.code)
    err = errors.from_result { auth = { status = 500, body = "{" }, attempts = 1 }
    assert.equal("InvalidResponse", err.code)
  end)
end)

describe("autopilot.errors.add_filter_hint", function()
  local function refused()
    return errors.from_result(graph_result(400, "BadRequest", "An error has occurred"))
  end

  it("names the operator the service refused and the filter forms that work", function()
    for filter, word in pairs { ["groupTag eq 'Kiosk'"] = "eq", ["groupTag ne 'A'"] = "ne",
                                ["not contains(model,'x')"] = "not", ["groupTag in ('a','b')"] = "in" } do
      local err = errors.add_filter_hint(refused(), filter)
      assert.matches("Intune refuses '" .. word .. "'", err.hint, 1, true)
      assert.matches("contains(groupTag,'Kiosk')", err.hint, 1, true)
      assert.matches("(Intune refuses", tostring(err), 1, true)
    end
  end)

  it("does not take a quoted literal for an operator, and explains other refusals", function()
    assert.matches("^Intune accepts only contains", errors.add_filter_hint(refused(), "contains(groupTag,'eq')").hint)
    assert.matches("hyphen", errors.add_filter_hint(refused(), "contains(serialNumber,'AB-1')").hint)
  end)

  it("leaves other errors alone", function()
    local e = errors.add_filter_hint(errors.from_result(graph_result(503, "ServiceUnavailable", "busy")), "a eq 'b'")
    assert.is_nil(e.hint)
    assert.is_nil(errors.add_filter_hint(refused(), nil).hint)
  end)
end)

describe("hints against the emulator", function()
  local emulator = require "autopilot.emulator"
  local autopilot = require "autopilot"
  local tenant = require "tenant"
  local emu

  before_each(function() emu = assert(emulator.start { devices = 3 }) end)
  after_each(function() emu:stop() end)

  it("adds the filter hint to Intune's raw 400 for an eq filter", function()
    local client = tenant.connect(emu)
    local list, err = client:list_devices { filter = "groupTag eq 'Kiosk'" }
    assert.is_nil(list)
    assert.equal(400, err.status)
    assert.matches("Intune refuses 'eq'", err.hint, 1, true)
    local report, rerr = client:unassign_users({ filter = "groupTag eq 'Kiosk'" }, { progress = false })
    assert.is_nil(report)
    assert.matches("Intune refuses 'eq'", rerr.hint, 1, true)
    client:close()
  end)

  it("refuses a Graph URL with the version at connect, before any request", function()
    local before = emu:state { devices = false, log = false }.requests
    local client, err = autopilot.connect(tenant.options(emu, { graph_url = emu.url .. "/v1.0" }))
    assert.is_nil(client)
    assert.equal("InvalidConfiguration", err.code)
    assert.matches("give " .. emu.url .. " and choose the version", err.message, 1, true)
    assert.equal(before, emu:state { devices = false, log = false }.requests)
  end)
end)
