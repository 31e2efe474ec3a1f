rockspec_format = "3.0"
package = "lua-autopilot"
version = "scm-1"
source = {
  url = "git+https://example.invalid/lua-autopilot.git",
}
description = {
  summary = "Take the assigned user off Windows Autopilot devices through Microsoft Graph",
  detailed = [[
A Lua 5.4 module with a C core on libcurl: authentication, paced and retried Graph requests,
unassignUserFromDevice for one device or tens of thousands, with plain error values.]],
  license = "MIT",
  labels = { "intune", "autopilot", "microsoft-graph", "libcurl" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson >= 2.1",
}
external_dependencies = {
  CURL = { header = "curl/curl.h" },
  OPENSSL = { header = "openssl/evp.h" },
}
build = {
  type = "builtin",
  modules = {
    ["autopilot.core"] = {
      sources = { "src/*.c" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      libraries = { "curl", "crypto" },
      defines = { "_GNU_SOURCE" },
    },
    autopilot = "lua/autopilot.lua",
    ["autopilot.errors"] = "lua/autopilot/errors.lua",
    ["autopilot.ids"] = "lua/autopilot/ids.lua",
    ["autopilot.clouds"] = "lua/autopilot/clouds.lua",
    ["autopilot.odata"] = "lua/autopilot/odata.lua",
    ["autopilot.credentials"] = "lua/autopilot/credentials.lua",
  },
}
test = {
  type = "busted",
}
