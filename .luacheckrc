std = "lua54"
max_line_length = 120
include_files = { "lua/**/*.lua", "spec/**/*.lua", "bin/*", "examples/**/*.lua", "bench/**/*.lua", ".busted",
                  ".luacheckrc" }
exclude_files = { "build/**", "build-asan/**" }
files["spec"] = { std = "+busted" }
files[".busted"] = { std = "+busted" }
