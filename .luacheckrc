std = "lua54"
max_line_length = 120
include_files = { "lua", "spec", "bin", "examples", "bench", ".busted", ".luacheckrc" }
files["spec"] = { std = "+busted" }
files[".busted"] = { std = "+busted" }
