--- Fails when a public function of the public modules has no doc comment.
--
--     lua5.4 scripts/doc_check.lua [config.ld]
--
-- The public modules are the files config.ld gives LDoc; their public functions are every
-- `function T.name(` or `function T:name(` (module fields, methods) and `T.name = function(` whose name does
-- not start with `_` (private helpers and metamethods). A doc comment is a block of `--` lines right above
-- the definition whose first line starts with `---`. Prints one line per missing comment; exits 1 if any.
local config = arg[1] or "config.ld"

local env = {}
local chunk = assert(loadfile(config, "t", env))
chunk()
assert(type(env.file) == "table", config .. ": 'file' must be a list of files")

local function documented(lines, i)
  local j = i - 1
  local first
  while j >= 1 and lines[j]:match("^%s*%-%-") do
    first = lines[j]
    j = j - 1
  end
  return first ~= nil and first:match("^%s*%-%-%-") ~= nil
end

local missing, checked = 0, 0
for _, path in ipairs(env.file) do
  local lines = {}
  for l in io.lines(path) do lines[#lines + 1] = l end
  for i, l in ipairs(lines) do
    local name = l:match("^function%s+[%w_]+[.:]([%w_]+)%s*%(") or l:match("^[%w_]+%.([%w_]+)%s*=%s*function%s*%(")
    if name and not name:find("^_") then
      checked = checked + 1
      if not documented(lines, i) then
        missing = missing + 1
        print(string.format("%s:%d: public function '%s' has no doc comment (---)", path, i, name))
      end
    end
  end
end
if missing > 0 then
  print(string.format("doc_check: %d of %d public functions without a doc comment", missing, checked))
  os.exit(1)
end
print(string.format("doc_check: %d public functions documented", checked))
