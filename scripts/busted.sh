#!/bin/sh
# Runs the busted spec suite and ends with the plain line "N passed, N failed".
#   --asan      load the build-asan/ modules with ASan+UBSan preloaded into lua5.4
#   --valgrind  run lua5.4 under valgrind (errors and definite leaks fail the run)
# Further arguments go to busted (e.g. a spec file).
set -u
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
BUSTED=${BUSTED:-/usr/bin/busted}
mode=plain
case "${1:-}" in --asan|--valgrind) mode=${1#--}; shift ;; esac
out=$(mktemp)
shim=""
trap 'rm -f "$out"; [ -n "$shim" ] && rm -rf "$shim"' EXIT
case $mode in
  plain)
    $LUA "$BUSTED" -o TAP "$@" >"$out" 2>&1; rc=$? ;;
  asan)
    # libasan must be preloaded into lua5.4, but programs the specs start (curl, openssl, node) hang or
    # misbehave with it: put shims first on PATH that drop it. Child lua5.4 processes keep it.
    shim=$(mktemp -d)
    for tool in curl openssl node npm wrk; do
      real=$(command -v "$tool") || continue
      printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$real" >"$shim/$tool"
      chmod +x "$shim/$tool"
    done
    PATH="$shim:$PATH" LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" AUTOPILOT_SANITIZED=1 \
      $LUA "$BUSTED" -o TAP --cpath="build-asan/?.so" "$@" >"$out" 2>&1; rc=$? ;;
  valgrind)
    AUTOPILOT_SANITIZED=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite --track-origins=no --suppressions=spec/support/valgrind.supp \
      $LUA "$BUSTED" -o TAP "$@" >"$out" 2>&1; rc=$? ;;
esac
cat "$out"
passed=$(grep '^ok ' "$out" | grep -vc '# SKIP')
skipped=$(grep -c '^ok .*# SKIP' "$out")
failed=$(grep -c '^not ok ' "$out")
total=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$out" | tail -n 1)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi   # a crash or an error outside any test
if [ -z "$total" ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$mode: $passed passed, $failed failed, $skipped skipped"
[ -n "${AUTOPILOT_COUNTS:-}" ] && echo "$mode $passed $failed $skipped" >>"$AUTOPILOT_COUNTS"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
