-- core.token_cache_read / token_cache_write / token_cache_lock (src/token_cache.c): real files,
-- real modes, and a real second process for the lock.
local core = require "autopilot.core"
local files = require "files"
local paths = require "paths"
local shell = require "shell"

local SECRET = "0.ARwA-refresh-token-SECRET-6b1e"

local q, sh = shell.quote, shell.check

-- A command's output and errors, without the trailing newline.
local function run(cmd)
  return (shell.run(cmd .. " 2>&1"):gsub("%s+$", ""))
end

local function mode(path) return run("stat -c %a " .. q(path)) end

-- A separate lua5.4 process with the same module paths (and the same LD_PRELOAD under ASan).
local function child(code, prefix)
  return (prefix or "") .. paths.env() .. " lua5.4 -e "
    .. q("local core = require 'autopilot.core' " .. code)
end

local function no_secret(err)
  assert.is_string(err)
  assert.is_nil(err:find(SECRET, 1, true), "error shows the contents")
end

describe("token cache", function()
  local dir

  local function p(name) return dir .. "/" .. name end

  before_each(function()
    dir = files.tempdir()
    assert.truthy(dir:match("^/"))
  end)

  after_each(function()
    files.remove(dir)
  end)

  it("is registered by autopilot.core", function()
    assert.is_function(core.token_cache_read, "autopilot.core does not call autopilot_open_token_cache")
    assert.is_function(core.token_cache_write)
    assert.is_function(core.token_cache_lock)
  end)

  it("reads false for a missing file", function()
    assert.is_false(core.token_cache_read(p("cache.json")))
    assert.is_false(core.token_cache_read(p("missing-dir/cache.json")))
  end)

  it("round-trips contents, binary and large, with mode 0600", function()
    local path = p("cache.json")
    assert.is_true(core.token_cache_write(path, '{"rt":"' .. SECRET .. '"}'))
    assert.equal('{"rt":"' .. SECRET .. '"}', core.token_cache_read(path))
    assert.equal("600", mode(path))
    local big = {}
    for i = 1, 20000 do big[i] = string.char(i % 256) .. "\0" .. i end
    big = table.concat(big)
    assert.is_true(core.token_cache_write(path, big))
    assert.equal(big, core.token_cache_read(path))
    assert.is_true(core.token_cache_write(path, ""))
    assert.equal("", core.token_cache_read(path))
  end)

  it("accepts a relative path", function()
    local cwd = run("pwd")
    local rel = dir:sub(1, #cwd + 1) == cwd .. "/" and dir:sub(#cwd + 2) .. "/rel.json" or nil
    if not rel then
      -- the temp dir is not under the working directory: write there from a child running in dir
      assert.equal("true\tx", run("cd " .. q(dir) .. " && " .. child(
        "assert(core.token_cache_write('rel.json', 'x')) print(true, core.token_cache_read('rel.json'))")))
    else
      assert.is_true(core.token_cache_write(rel, "x"))
      assert.equal("x", core.token_cache_read(rel))
    end
    assert.equal("600", mode(p("rel.json")))
  end)

  it("creates mode 0600 whatever the umask", function()
    local path = p("cache.json")
    assert.equal("true", run(child("print(core.token_cache_write(" .. string.format("%q", path) .. ", 'x'))",
      "umask 000; ")))
    assert.equal("600", mode(path))
  end)

  it("replaces the file by rename and leaves no temporary file", function()
    local path = p("cache.json")
    assert.is_true(core.token_cache_write(path, "one"))
    local inode = run("stat -c %i " .. q(path))
    assert.is_true(core.token_cache_write(path, "two"))
    assert.equal("two", core.token_cache_read(path))
    assert.are_not.equal(inode, run("stat -c %i " .. q(path)))
    assert.equal("cache.json", run("ls -A " .. q(dir)))
  end)

  it("keeps the old contents when a write fails half way", function()
    local path = p("cache.json")
    assert.is_true(core.token_cache_write(path, "old " .. SECRET))
    -- a file size limit of a few KB makes write(2) fail with EFBIG part way through 1 MB
    local out = run(child("local ok, err = core.token_cache_write(" .. string.format("%q", path)
      .. ", string.rep('" .. SECRET .. "', 40000)) print(ok, err)", "trap '' XFSZ; ulimit -f 8; "))
    assert.truthy(out:find("^nil\tcannot write token cache .*File too large$"), out)
    no_secret(out)
    assert.equal("old " .. SECRET, core.token_cache_read(path))
    assert.equal("cache.json", run("ls -A " .. q(dir)))
  end)

  it("refuses a file readable or writable by others, for reading and writing", function()
    local path = p("cache.json")
    assert.is_true(core.token_cache_write(path, SECRET))
    sh("chmod 644 " .. q(path))
    local ok, err = core.token_cache_read(path)
    assert.is_nil(ok)
    assert.equal("token cache " .. path .. " is readable by others (mode 0644): fix with chmod 600, or delete it", err)
    ok, err = core.token_cache_write(path, "new")
    assert.is_nil(ok)
    assert.truthy(err:find("readable by others (mode 0644)", 1, true))
    sh("chmod 620 " .. q(path))
    ok, err = core.token_cache_read(path)
    assert.is_nil(ok)
    assert.truthy(err:find("is writable by others (mode 0620)", 1, true))
    no_secret(err)
    sh("chmod 600 " .. q(path))
    assert.equal(SECRET, core.token_cache_read(path))
  end)

  it("refuses a symbolic link, even to a good file, and leaves its target alone", function()
    local target, link = p("real.json"), p("cache.json")
    assert.is_true(core.token_cache_write(target, SECRET))
    sh("ln -s " .. q(target) .. " " .. q(link))
    local ok, err = core.token_cache_read(link)
    assert.is_nil(ok)
    assert.truthy(err:find("is a symbolic link", 1, true))
    ok, err = core.token_cache_write(link, "new")
    assert.is_nil(ok)
    assert.truthy(err:find("is a symbolic link", 1, true))
    no_secret(err)
    assert.equal(SECRET, core.token_cache_read(target))
    assert.equal("link", run("test -L " .. q(link) .. " && echo link"))
  end)

  it("refuses a directory and a FIFO", function()
    local d, fifo = p("cache.json"), p("fifo.json")
    sh("mkdir " .. q(d))
    sh("mkfifo -m 600 " .. q(fifo))
    local ok, err = core.token_cache_read(d)
    assert.is_nil(ok)
    assert.truthy(err:find("is not a regular file (it is a directory)", 1, true), err)
    ok, err = core.token_cache_write(d, "x")
    assert.is_nil(ok)
    assert.truthy(err:find("is not a regular file (it is a directory)", 1, true), err)
    ok, err = core.token_cache_read(fifo)
    assert.is_nil(ok)
    assert.truthy(err:find("(it is a FIFO)", 1, true), err)
  end)

  it("refuses a file owned by another user", function()
    if run("id -u") ~= "0" then
      pending("needs root to give a file to another user")
      return
    end
    local path = p("cache.json")
    assert.is_true(core.token_cache_write(path, SECRET))
    sh("chown 65534 " .. q(path))
    local ok, err = core.token_cache_read(path)
    assert.is_nil(ok)
    assert.truthy(err:find("is owned by another user (uid 65534)", 1, true), err)
    ok, err = core.token_cache_write(path, "new")
    assert.is_nil(ok)
    assert.truthy(err:find("is owned by another user", 1, true), err)
    sh("chown 0 " .. q(path))
    assert.equal(SECRET, core.token_cache_read(path))
  end)

  it("needs the parent directory to exist", function()
    local ok, err = core.token_cache_write(p("nowhere/cache.json"), SECRET)
    assert.is_nil(ok)
    assert.equal("token cache directory " .. p("nowhere") .. " does not exist: create it first (mkdir -m 700 "
      .. p("nowhere") .. ")", err)
    assert.equal("", run("ls -A " .. q(dir)))
    sh("touch " .. q(p("file")))
    ok, err = core.token_cache_write(p("file/cache.json"), SECRET)
    assert.is_nil(ok)
    assert.truthy(err:find("is not a directory", 1, true), err)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() core.token_cache_read() end)
    assert.has_error(function() core.token_cache_read("") end)
    assert.has_error(function() core.token_cache_read(dir .. "/") end)
    assert.has_error(function() core.token_cache_read("a\0b") end)
    assert.has_error(function() core.token_cache_write(p("x"), nil) end)
    assert.has_error(function() core.token_cache_lock(p("x"), -1) end)
  end)

  describe("lock", function()
    local function try_in_child(path)
      return run(child("local l, e = core.token_cache_lock(" .. string.format("%q", path)
        .. ", 0) print(l and 'locked' or e)"))
    end

    it("excludes a second holder in another process until closed", function()
      local path = p("cache.json")
      local lock = assert(core.token_cache_lock(path))
      assert.equal("600", mode(path .. ".lock"))
      assert.truthy(tostring(lock):find(path, 1, true))
      assert.equal("token cache " .. path .. " is locked by another process (waited 0.0 s)", try_in_child(path))
      assert.is_true(lock:close())
      assert.equal("locked", try_in_child(path))
      assert.is_true(lock:close())          -- idempotent
      assert.equal("autopilot.TokenCacheLock (closed)", tostring(lock))
    end)

    it("excludes a second lock in the same process", function()
      local path = p("cache.json")
      local lock = assert(core.token_cache_lock(path))
      local again, err = core.token_cache_lock(path, 0)
      assert.is_nil(again)
      assert.truthy(err:find("is locked by another process", 1, true))
      lock:close()
      again = assert(core.token_cache_lock(path, 0))
      again:close()
    end)

    it("is released at the end of a <close> scope and by garbage collection", function()
      local path = p("cache.json")
      do
        local lock <close> = assert(core.token_cache_lock(path))
        assert.truthy(tostring(lock):find(path, 1, true))
        assert.truthy(try_in_child(path):find("is locked", 1, true))
      end
      assert.equal("locked", try_in_child(path))
      local weak = setmetatable({}, { __mode = "v" })
      weak[1] = assert(core.token_cache_lock(path))
      assert.truthy(try_in_child(path):find("is locked", 1, true))
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
      assert.equal("locked", try_in_child(path))
    end)

    it("waits for another process to release it", function()
      local path = p("cache.json")
      local holder = assert(io.popen(child("local l = assert(core.token_cache_lock(" .. string.format("%q", path)
        .. ")) print('held') io.stdout:flush() os.execute('sleep 0.3') l:close() print('released')")))
      assert.equal("held", holder:read("l"))
      local lock = assert(core.token_cache_lock(path, 60))
      assert.equal("released", holder:read("l"))
      holder:close()
      lock:close()
    end)

    it("refuses a symbolic link as lock file and a missing directory", function()
      local path = p("cache.json")
      sh("ln -s " .. q(p("elsewhere")) .. " " .. q(path .. ".lock"))
      local lock, err = core.token_cache_lock(path, 0)
      assert.is_nil(lock)
      assert.truthy(err:find("is a symbolic link", 1, true), err)
      lock, err = core.token_cache_lock(p("nowhere/cache.json"), 0)
      assert.is_nil(lock)
      assert.truthy(err:find("directory does not exist", 1, true), err)
    end)
  end)
end)
