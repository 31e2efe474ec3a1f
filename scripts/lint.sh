#!/bin/sh
# Lint: luacheck on all Lua, the rockspecs through luarocks lint, and a strict-warnings C build with -Werror.
set -u
cd "$(dirname "$0")/.."
rc=0
luacheck -q . || rc=1
for r in *.rockspec; do
  luarocks --lua-version=5.4 lint "$r" || { echo "luarocks lint: $r failed"; rc=1; }
done
make -s BUILD=build-lint CFLAGS=-Werror build >/dev/null || { echo "C build with -Werror failed"; rc=1; }
rm -rf build-lint
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
