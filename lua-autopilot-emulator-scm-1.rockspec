rockspec_format = "3.0"
package = "lua-autopilot-emulator"
version = "scm-1"
source = {
  url = "git+https://example.invalid/lua-autopilot.git",
}
description = {
  summary = "A local emulator of Microsoft Graph (Autopilot devices) and the identity platform",
  detailed = [[
A real HTTP/1.1 server (libmicrohttpd) on loopback that serves the Graph and identity-platform paths
lua-autopilot uses, with the tenant's behaviour, quirks, throttling and faults written in Lua.
Used by lua-autopilot's specs, examples and benchmarks, and to rehearse scripts without a tenant.
Start it from Lua (require "autopilot.emulator") or with the autopilot-emulator command.]],
  license = "MIT",
  labels = { "intune", "autopilot", "microsoft-graph", "emulator", "libmicrohttpd" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson >= 2.1",
}
external_dependencies = {
  MICROHTTPD = { header = "microhttpd.h" },
  OPENSSL = { header = "openssl/evp.h" },
  ZLIB = { header = "zlib.h" },
}
build = {
  type = "builtin",
  modules = {
    ["autopilot.emulator.host"] = {
      sources = { "src/emulator/crypto.c", "src/emulator/host.c", "src/emulator/reply.c", "src/emulator/server.c",
                  "src/emulator/state.c", "src/emulator/timers.c",
                  -- shared with autopilot.core: one option reader, clock, buffer and base64url in the tree
                  "src/options.c", "src/clock.c", "src/buf.c", "src/base64url.c" },
      incdirs = { "src", "$(MICROHTTPD_INCDIR)", "$(OPENSSL_INCDIR)", "$(ZLIB_INCDIR)" },
      libdirs = { "$(MICROHTTPD_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(ZLIB_LIBDIR)" },
      libraries = { "microhttpd", "crypto", "z", "pthread" },
      defines = { "_GNU_SOURCE" },
    },
    ["autopilot.emulator"] = "lua/autopilot/emulator.lua",
    -- the tenant app (keep in step with lua/autopilot/emulator/)
    ["autopilot.emulator.app"] = "lua/autopilot/emulator/app.lua",
    ["autopilot.emulator.batch"] = "lua/autopilot/emulator/batch.lua",
    ["autopilot.emulator.clock"] = "lua/autopilot/emulator/clock.lua",
    ["autopilot.emulator.cli"] = "lua/autopilot/emulator/cli.lua",
    ["autopilot.emulator.control"] = "lua/autopilot/emulator/control.lua",
    ["autopilot.emulator.envelope"] = "lua/autopilot/emulator/envelope.lua",
    ["autopilot.emulator.faults"] = "lua/autopilot/emulator/faults.lua",
    ["autopilot.emulator.generator"] = "lua/autopilot/emulator/generator.lua",
    ["autopilot.emulator.graph"] = "lua/autopilot/emulator/graph.lua",
    ["autopilot.emulator.identity"] = "lua/autopilot/emulator/identity.lua",
    ["autopilot.emulator.identity.client_auth"] = "lua/autopilot/emulator/identity/client_auth.lua",
    ["autopilot.emulator.identity.core"] = "lua/autopilot/emulator/identity/core.lua",
    ["autopilot.emulator.identity.device_code"] = "lua/autopilot/emulator/identity/device_code.lua",
    ["autopilot.emulator.identity.errors"] = "lua/autopilot/emulator/identity/errors.lua",
    ["autopilot.emulator.identity.form"] = "lua/autopilot/emulator/identity/form.lua",
    ["autopilot.emulator.identity.msi"] = "lua/autopilot/emulator/identity/msi.lua",
    ["autopilot.emulator.identity.tokens"] = "lua/autopilot/emulator/identity/tokens.lua",
    ["autopilot.emulator.jwt"] = "lua/autopilot/emulator/jwt.lua",
    ["autopilot.emulator.latency"] = "lua/autopilot/emulator/latency.lua",
    ["autopilot.emulator.log"] = "lua/autopilot/emulator/log.lua",
    ["autopilot.emulator.odata"] = "lua/autopilot/emulator/odata.lua",
    ["autopilot.emulator.profiles"] = "lua/autopilot/emulator/profiles.lua",
    ["autopilot.emulator.random"] = "lua/autopilot/emulator/random.lua",
    ["autopilot.emulator.store"] = "lua/autopilot/emulator/store.lua",
    ["autopilot.emulator.throttle"] = "lua/autopilot/emulator/throttle.lua",
  },
  install = {
    bin = {
      ["autopilot-emulator"] = "bin/autopilot-emulator",
    },
  },
}
test = {
  type = "busted",
}
