-- bin/autopilot says what it waits for while a request waits to retry: `retrying: <reason> (n of max, next in
-- s)` on stderr, as child processes against an emulator that is stopped (its port then refuses) or that
-- answers one device's write with a 503 once.
local emulator = require "autopilot.emulator"
local tenant = require "tenant"
local files = require "files"
local child = require "cli_child"
local shell = require "shell"

local q = shell.quote

describe("bin/autopilot retry messages", function()
  local dir

  setup(function() dir = files.tempdir() end)
  teardown(function() files.remove(dir) end)

  it("prints each retry of a refused connection, then fails with exit 1 after --max-retries", function()
    local emu = assert(emulator.start { devices = 3, seed = 7 })
    emu:stop() -- its port is closed now: every connection to it is refused
    local _, err, status = child.run(emu, dir, "--max-retries 2 list")
    assert.equal(1, status, err)
    assert.matches("retrying: connection refused %(1 of 2, next in %d+%.%d s%)\n", err)
    assert.matches("retrying: connection refused %(2 of 2, next in %d+%.%d s%)\n", err)
    assert.is_nil(err:find("3 of 2", 1, true), err)
    assert.matches("\nautopilot: COULDNT_CONNECT: ", err, 1, true) -- the cause, said once
    assert.is_nil(err:find("autopilot: autopilot:", 1, true), err)
    assert.is_nil(err:find(emu.client_secret, 1, true)) -- the message names the cause, never the secret
  end)

  it("refuses a --max-retries out of range as a usage error (exit 2)", function()
    local emu = assert(emulator.start { devices = 3, seed = 7 })
    local _, err, status = child.run(emu, dir, "--max-retries 101 list")
    emu:stop()
    assert.equal(2, status, err)
    assert.matches("--max-retries needs a whole number from 0 to 100, got '101'", err, 1, true)
  end)

  it("announces a write's retry during a bulk run, which then finishes", function()
    local emu = assert(emulator.start { devices = 20, seed = 8 })
    local ds = tenant.with_user(emu)
    local csv = dir .. "/retry.csv"
    files.write(csv, "id\n" .. ds[1].id .. "\n" .. ds[2].id .. "\n")
    emu:configure { faults = { targets = { [ds[2].id] = { "503" } } } }
    local out, err, status = child.run(emu, dir, "bulk --yes " .. q(csv))
    emu:stop()
    assert.equal(0, status, out .. err)
    assert.matches("retrying: HTTP 503 (service unavailable) (1 of 6, next in ", err, 1, true)
    assert.matches("2 unassigned", out, 1, true)
  end)
end)
