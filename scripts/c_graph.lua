#!/usr/bin/env lua5.4
--- The call graph among a C module's files, from the symbols each object file defines and uses (nm), and
-- the circles in it (strongly connected components of more than one file). Exits 1 when there is a circle.
--
--   lua5.4 scripts/c_graph.lua [DIR]        (DIR: src by default; src/emulator for the emulator host)
--
-- Each src/*.c is compiled on its own into a temporary directory with the project's flags; an edge a -> b
-- means a.c calls (or reads) something b.c defines. Include edges are printed too (from `cc -MM`).
local dir = arg[1] or "src"

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local flags = run("pkg-config --cflags lua5.4 libcurl libmicrohttpd 2>/dev/null"):gsub("%s+$", "")
local files = {}
for f in run("ls " .. sh_quote(dir) .. "/*.c"):gmatch("[^\n]+") do files[#files + 1] = f end
table.sort(files)
local tmp = run("mktemp -d"):gsub("%s+$", "")

local defines, uses, includes = {}, {}, {}
for _, f in ipairs(files) do
  local name = f:match("([^/]+)%.c$")
  local obj = tmp .. "/" .. name .. ".o"
  local _, ok = run(string.format("cc -c -D_GNU_SOURCE -std=c11 %s -Isrc -I%s -o %s %s 2>&1", flags, sh_quote(dir),
    sh_quote(obj), sh_quote(f)))
  if not ok then io.stderr:write("c_graph: cannot compile ", f, "\n") os.exit(2) end
  uses[name] = {}
  for line in run("nm " .. sh_quote(obj)):gmatch("[^\n]+") do
    local kind, sym = line:match("^%s*%x*%s+(%a)%s+(%S+)$")
    if kind == "U" then
      uses[name][sym] = true
    elseif kind and kind:match("[TDBR]") then
      defines[sym] = name
    end
  end
  includes[name] = {}
  local deps = run(string.format("cc -MM -D_GNU_SOURCE %s -Isrc -I%s %s", flags, sh_quote(dir), sh_quote(f)))
  for h in deps:gmatch("(%S+%.h)") do
    if h:sub(1, #dir + 1) == dir .. "/" or not h:find("/") then includes[name][#includes[name] + 1] = h:match("[^/]+$") end
  end
end
os.execute("rm -rf " .. sh_quote(tmp))

local edges, names = {}, {}
for name in pairs(uses) do
  names[#names + 1] = name
  edges[name] = {}
  for sym in pairs(uses[name]) do
    local to = defines[sym]
    if to and to ~= name then edges[name][to] = true end
  end
end
table.sort(names)

print("calls (a -> b: a uses what b defines):")
for _, a in ipairs(names) do
  local to = {}
  for b in pairs(edges[a]) do to[#to + 1] = b end
  table.sort(to)
  print(string.format("  %-22s -> %s", a, #to > 0 and table.concat(to, " ") or "(none)"))
end
print("includes:")
for _, a in ipairs(names) do print(string.format("  %-22s   %s", a .. ".c", table.concat(includes[a], " "))) end

-- Tarjan's strongly connected components
local index, low, onstack, stack, n, circles = {}, {}, {}, {}, 0, {}
local function connect(v)
  n = n + 1
  index[v], low[v] = n, n
  stack[#stack + 1] = v
  onstack[v] = true
  for w in pairs(edges[v]) do
    if not index[w] then
      connect(w)
      low[v] = math.min(low[v], low[w])
    elseif onstack[w] then
      low[v] = math.min(low[v], index[w])
    end
  end
  if low[v] == index[v] then
    local scc = {}
    repeat
      local w = table.remove(stack)
      onstack[w] = nil
      scc[#scc + 1] = w
    until w == v
    if #scc > 1 then
      table.sort(scc)
      circles[#circles + 1] = scc
    end
  end
end
for _, v in ipairs(names) do if not index[v] then connect(v) end end
if #circles == 0 then
  print("circles: none")
  os.exit(0)
end
for _, c in ipairs(circles) do print("circle: " .. table.concat(c, " ")) end
os.exit(1)
