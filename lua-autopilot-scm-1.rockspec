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
  -- optional, not listed so that nothing pulls them in: luv (for autopilot.luv) and cqueues (for
  -- autopilot.cqueues), each needed only by its adapter; the core links neither
}
external_dependencies = {
  -- a library check, not a header one: Debian keeps curl.h in the multiarch include directory, which the
  -- compiler searches by default but luarocks does not
  CURL = { library = "curl" },
  OPENSSL = { header = "openssl/evp.h" },
}
build = {
  type = "builtin",
  modules = {
    ["autopilot.core"] = {
      sources = {
        "src/auth.c",
        "src/auth_options.c",
        "src/base64url.c",
        "src/batch.c",
        "src/buf.c",
        "src/certificate.c",
        "src/clock.c",
        "src/core.c",
        "src/curl_names.c",
        "src/engine.c",
        "src/flow_client_credentials.c",
        "src/flow_delegated.c",
        "src/flow_managed_identity.c",
        "src/gate.c",
        "src/headers.c",
        "src/json.c",
        "src/list.c",
        "src/options.c",
        "src/pacing.c",
        "src/random.c",
        "src/request.c",
        "src/result.c",
        "src/retry.c",
        "src/retry_after.c",
        "src/retry_event.c",
        "src/session.c",
        "src/signals.c",
        "src/signer.c",
        "src/sockets.c",
        "src/system.c",
        "src/token.c",
        "src/token_cache.c",
        "src/token_info.c",
        "src/token_request.c",
        "src/transfer.c",
      },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      libraries = { "curl", "crypto" },
      defines = { "_GNU_SOURCE" },
    },
    autopilot = "lua/autopilot.lua",
    ["autopilot.bulk"] = "lua/autopilot/bulk.lua",
    ["autopilot.bulk.actions"] = "lua/autopilot/bulk/actions.lua",
    ["autopilot.bulk.clock"] = "lua/autopilot/bulk/clock.lua",
    ["autopilot.async"] = "lua/autopilot/async.lua",
    ["autopilot.waiting"] = "lua/autopilot/waiting.lua",
    ["autopilot.luv"] = "lua/autopilot/luv.lua",
    ["autopilot.cqueues"] = "lua/autopilot/cqueues.lua",
    ["autopilot.bulk.journal"] = "lua/autopilot/bulk/journal.lua",
    ["autopilot.bulk.options"] = "lua/autopilot/bulk/options.lua",
    ["autopilot.bulk.plan"] = "lua/autopilot/bulk/plan.lua",
    ["autopilot.bulk.progress"] = "lua/autopilot/bulk/progress.lua",
    ["autopilot.bulk.report"] = "lua/autopilot/bulk/report.lua",
    ["autopilot.bulk.restore"] = "lua/autopilot/bulk/restore.lua",
    ["autopilot.bulk.runner"] = "lua/autopilot/bulk/runner.lua",
    ["autopilot.bulk.targets"] = "lua/autopilot/bulk/targets.lua",
    ["autopilot.bulk.verify"] = "lua/autopilot/bulk/verify.lua",
    ["autopilot.checks"] = "lua/autopilot/checks.lua",
    ["autopilot.cli.args"] = "lua/autopilot/cli/args.lua",
    ["autopilot.cli.commands"] = "lua/autopilot/cli/commands.lua",
    ["autopilot.cli.device_commands"] = "lua/autopilot/cli/device_commands.lua",
    ["autopilot.cli.help"] = "lua/autopilot/cli/help.lua",
    ["autopilot.cli.login_commands"] = "lua/autopilot/cli/login_commands.lua",
    ["autopilot.cli.main"] = "lua/autopilot/cli/main.lua",
    ["autopilot.cli.messages"] = "lua/autopilot/cli/messages.lua",
    ["autopilot.cli.output"] = "lua/autopilot/cli/output.lua",
    ["autopilot.cli.prompt"] = "lua/autopilot/cli/prompt.lua",
    ["autopilot.cli.run_commands"] = "lua/autopilot/cli/run_commands.lua",
    ["autopilot.cli.session"] = "lua/autopilot/cli/session.lua",
    ["autopilot.cli.trace"] = "lua/autopilot/cli/trace.lua",
    ["autopilot.clouds"] = "lua/autopilot/clouds.lua",
    ["autopilot.credentials"] = "lua/autopilot/credentials.lua",
    ["autopilot.errors"] = "lua/autopilot/errors.lua",
    ["autopilot.ids"] = "lua/autopilot/ids.lua",
    ["autopilot.json"] = "lua/autopilot/json.lua",
    ["autopilot.odata"] = "lua/autopilot/odata.lua",
    ["autopilot.repl"] = "lua/autopilot/repl.lua",
    ["autopilot.serial"] = "lua/autopilot/serial.lua",
    ["autopilot.csv"] = "lua/autopilot/csv.lua",
    ["autopilot.token_cache"] = "lua/autopilot/token_cache.lua",
    ["autopilot.url"] = "lua/autopilot/url.lua",
  },
  install = {
    bin = {
      autopilot = "bin/autopilot",
    },
  },
}
test = {
  type = "busted",
}
