--- Assignment audit (read only): who is assigned to which devices, people holding several, devices with
-- nobody, as CSV.
--
--     lua5.4 examples/audit_assignments.lua [audit.csv]
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/audit_assignments.lua
--
-- Walks every device page by page with `each_device` (memory bounded by one page), which reports a failure
-- in the middle of the listing instead of returning a short list.
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.client

local path = arg[1] or ((os.getenv("TMPDIR") or "/tmp") .. "/autopilot-audit.csv")
local by_user, unassigned, total = {}, 0, 0
local f = assert(io.open(path, "w"))
f:write("serialNumber,id,groupTag,userPrincipalName\n")
for d, err in client:each_device() do
  if not d then
    io.stderr:write("listing failed: ", tostring(err), "\n")
    f:close()
    ex.exit(1)
  end
  total = total + 1
  local upn = d.userPrincipalName or ""
  if upn == "" then
    unassigned = unassigned + 1
  else
    by_user[upn] = (by_user[upn] or 0) + 1
  end
  -- quote every cell: a serial or tag may hold a comma
  local cells = {}
  for i, v in ipairs { d.serialNumber, d.id, d.groupTag, upn } do
    cells[i] = '"' .. tostring(v or ""):gsub('"', '""') .. '"'
  end
  f:write(table.concat(cells, ","), "\n")
end
f:close()

local several = {}
for upn, n in pairs(by_user) do if n > 1 then several[#several + 1] = { upn, n } end end
table.sort(several, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
local people = 0
for _ in pairs(by_user) do people = people + 1 end
print(string.format("%d devices, %d with nobody assigned, %d people assigned", total, unassigned, people))
for i = 1, math.min(#several, 10) do print(string.format("  %s holds %d devices", several[i][1], several[i][2])) end
print("audit: " .. path)
ex.exit(total > 0 and 0 or 1)
