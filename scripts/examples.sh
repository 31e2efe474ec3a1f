#!/bin/sh
# Runs every example in examples/ (the scripts, and the REPL session fed to lua5.4 -i) against an emulator started in its own process (AUTOPILOT_EXAMPLE_EMULATOR=1)
# and fails if any fails: a non-zero exit, or for the REPL session anything on stderr (the interactive
# interpreter reports an error there and goes on). Prints one line per example; a failure shows its output.
set -u
cd "$(dirname "$0")/.."
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/?.so;;' AUTOPILOT_EXAMPLE_EMULATOR=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export TMPDIR="$out" AUTOPILOT_DEMO_DIR="$out/demo"
passed=0
failed=0
for f in examples/*.lua examples/repl_session.txt; do
  name=$(basename "$f"); name=${name%.*}
  case $name in
    _*) continue ;; # helpers, not examples
    demo) set -- lua5.4 "$f" Kiosk 400 ;; # a smaller tenant than the demo's default
    *) set -- lua5.4 "$f" ;;
  esac
  if [ "$name" = repl_session ]; then
    lua5.4 -i <"$f" >"$out/$name.out" 2>"$out/$name.err"
    rc=$?
    [ $rc -eq 0 ] && [ -s "$out/$name.err" ] && rc=1
  else
    "$@" >"$out/$name.out" 2>"$out/$name.err"
    rc=$?
  fi
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "example ok: $name"
  else
    failed=$((failed + 1))
    echo "example FAILED ($rc): $name"
    tail -n 20 "$out/$name.out" "$out/$name.err"
  fi
done
[ -n "${AUTOPILOT_COUNTS:-}" ] && echo "examples $passed $failed 0" >>"$AUTOPILOT_COUNTS"
echo "examples: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -ge 6 ]
