-- scripts/doc_check.lua (lint fails on a public function without a doc comment) and the LDoc reference
-- that `make doc` builds from config.ld.
local shell = require "shell"
local files = require "files"

local function check(config)
  return shell.run("lua5.4 scripts/doc_check.lua " .. shell.quote(config) .. " 2>&1")
end

describe("doc_check", function()
  it("passes on the public modules of config.ld", function()
    local out, code = check("config.ld")
    assert.are.equal(0, code, out)
    assert.matches("doc_check: %d+ public functions documented", out)
  end)

  it("fails on a public function without a --- comment, and names it", function()
    local dir = shell.output("mktemp -d"):gsub("%s+$", "")
    local mod = dir .. "/m.lua"
    local f = assert(io.open(mod, "w"))
    f:write([[
local M = {}
local T = {}
--- Documented.
-- @treturn boolean
function M.good() return true end
-- only a plain comment
function M.plain() end
function T:method() end
M.assigned = function() end
local function helper() end
function M._private() return helper end
return M
]])
    f:close()
    local cfg = dir .. "/config.ld"
    f = assert(io.open(cfg, "w"))
    f:write("file = { " .. string.format("%q", mod) .. " }\n")
    f:close()
    local out, code = check(cfg)
    shell.check("rm -rf " .. shell.quote(dir))
    assert.are.equal(1, code, out)
    assert.matches("m.lua:7: public function 'plain' has no doc comment", out, 1, true)
    assert.matches("m.lua:8: public function 'method'", out, 1, true)
    assert.matches("m.lua:9: public function 'assigned'", out, 1, true)
    assert.is_nil(out:find("'good'", 1, true))
    assert.is_nil(out:find("_private", 1, true))
    assert.is_nil(out:find("helper", 1, true))
    assert.matches("3 of 4 public functions without a doc comment", out, 1, true)
  end)
end)

describe("the API reference", function()
  it("is built by LDoc from config.ld with every client method", function()
    local dir = shell.output("mktemp -d"):gsub("%s+$", "")
    shell.output("ldoc -q -d " .. shell.quote(dir) .. " .")
    local page = files.slurp(dir .. "/modules/autopilot.html")
    local index = files.slurp(dir .. "/index.html")
    shell.check("rm -rf " .. shell.quote(dir))
    local autopilot = require "autopilot"
    for name, f in pairs(autopilot.Client) do
      if type(f) == "function" and not name:find("^_") then
        assert.is_truthy(page:find('name = "Client[:.]' .. name .. '"'), name)
      end
    end
    assert.matches("autopilot.bulk.report", index, 1, true)
    assert.matches("autopilot.errors", index, 1, true)
  end)
end)
