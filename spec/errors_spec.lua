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
