--- The skeleton the specs' small emulator-host apps share (doc/INTERNALS.md, "Tenant app interface"): `new`,
-- `info`, `state` and `configure`, counting the requests it saw; each app adds only its `handle`.
local M = {}

--- A new app module and its method table.
-- @treturn table the module (`new()` makes an app; its config is ignored)
-- @treturn table the methods: define `App:handle(req)` on it and count `self.requests`
function M.module()
  local App = {}
  App.__index = App
  --- Credentials the facade reads at start (unused: clients bring an access token).
  function App.info()
    return { tenant = "t", client_id = "c", client_secret = "s" }
  end
  --- `{ requests = n }`.
  function App:state()
    return { requests = self.requests }
  end
  --- Nothing to configure.
  function App.configure()
    return true
  end
  local mod = {}
  --- A new app (the config is ignored).
  function mod.new()
    return setmetatable({ requests = 0 }, App)
  end
  return mod, App
end

return M
