--- A test app for the emulator host: every request gets one device page whose @odata.nextLink names another
-- host (127.0.0.2, still loopback), as a hostile or broken service might. Counts the requests it saw.
local M, App = require("stub_app").module()

local PAGE = '{"value":[{"id":"5f0e5a5c-7b8b-4f8e-9d5b-0d8a2b6c1e3f","serialNumber":"S1"}],'
  .. '"@odata.nextLink":"http://127.0.0.2:9/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$skiptoken=x"}'

--- The same page for every request.
function App:handle()
  self.requests = self.requests + 1
  return { status = 200, headers = { ["Content-Type"] = "application/json" }, body = PAGE }
end

return M
