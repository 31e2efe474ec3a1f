--- Lookups by serial number: which device is it, who is assigned, which group tag.
--
--     lua5.4 examples/serial_lookup.lua SERIAL [SERIAL...]
--     AUTOPILOT_EXAMPLE_EMULATOR=1 lua5.4 examples/serial_lookup.lua
--
-- Serial numbers match exactly (case-sensitively, surrounding spaces ignored). Intune rejects `eq` on this
-- collection, so the client asks for `contains(serialNumber,'...')` and compares here. A serial shared by
-- several devices (it happens after a motherboard swap) is listed as ambiguous. Exit code 1 when a serial
-- was not found.
local ex = dofile((arg[0]:match("^(.*)/") or ".") .. "/_connect.lua")
local client = ex.client

local serials = { table.unpack(arg) }
if #serials == 0 and ex.emu then
  -- the rehearsal: three serial numbers of the tenant (long ones: the emulated tenant has odd short ones too)
  for _, d in ipairs(ex.emu:state { log = false }.devices) do
    if #d.serialNumber >= 7 and #serials < 3 then serials[#serials + 1] = d.serialNumber end
  end
end
if #serials == 0 then
  io.stderr:write("usage: lua5.4 examples/serial_lookup.lua SERIAL [SERIAL...]\n")
  ex.exit(2)
end

local missing = 0
for _, serial in ipairs(serials) do
  local list, err = client:list_devices { serial = serial }
  if not list then
    io.stderr:write(serial, ": ", tostring(err), "\n")
    ex.exit(1)
  elseif #list == 0 then
    missing = missing + 1
    print(string.format("%q: not found", serial))
  elseif #list > 1 then
    print(string.format("%q: ambiguous, %d devices", serial, #list))
    print(tostring(list))
  else
    local d = list[1]
    print(string.format("%q: %s", serial, tostring(d)))
    print(string.format("    model %s %s, enrollment %s, last contact %s", tostring(d.manufacturer),
      tostring(d.model), tostring(d.enrollmentState), tostring(d.lastContactedDateTime)))
  end
end
ex.exit(missing == 0 and 0 or 1)
