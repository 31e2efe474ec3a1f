#!/bin/sh
# Lint: luacheck on all Lua, the rockspecs through luarocks lint, a strict-warnings C build with -Werror,
# clang-format over every C file, no circle of calls among the C files of each module, and a doc comment on
# every public function of the public modules (scripts/doc_check.lua, over config.ld's files).
set -u
cd "$(dirname "$0")/.."
rc=0
luacheck -q . || rc=1
for r in *.rockspec; do
  luarocks --lua-version=5.4 lint "$r" || { echo "luarocks lint: $r failed"; rc=1; }
done
make -s BUILD=build-lint CFLAGS=-Werror build >/dev/null || { echo "C build with -Werror failed"; rc=1; }
rm -rf build-lint
for f in src/*.[ch] src/emulator/*.[ch] fuzz/*.[ch]; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "clang-format: $f is not formatted (clang-format -i $f)"; rc=1; }
done
for d in src src/emulator; do
  lua5.4 scripts/c_graph.lua "$d" >/dev/null || { echo "circle of calls among the C files of $d: lua5.4 scripts/c_graph.lua $d"; rc=1; }
done
lua5.4 scripts/doc_check.lua >/dev/null || { lua5.4 scripts/doc_check.lua; rc=1; }
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
