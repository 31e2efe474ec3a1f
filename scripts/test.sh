#!/bin/sh
# The whole test suite, as CI runs it: installs the Debian packages it needs, builds, lints, builds the API
# reference (make doc), runs every spec and every example (once, in the plain pass), then runs every spec
# again with ASan+UBSan and under valgrind, then every fuzz target for a minute. Ends with "N passed, N failed".
# QUICK=1 skips the sanitizer, valgrind and fuzz runs (a fast local loop).
set -u
cd "$(dirname "$0")/.."
sh scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
export AUTOPILOT_COUNTS="$counts"
status=0
step() { echo "== $*"; "$@" || status=1; }
step make -s build
sh scripts/lint.sh || { status=1; echo "lint 0 1 0" >>"$counts"; }
step make -s doc
step sh scripts/busted.sh
step sh scripts/examples.sh
if [ "${QUICK:-0}" != 1 ]; then
  step make -s asan
  step make -s valgrind
  # every libFuzzer target over its seed corpus, FUZZ_SECONDS (60) each
  step make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
fi
passed=$(awk '{p += $2} END {print p + 0}' "$counts")
failed=$(awk '{f += $3} END {print f + 0}' "$counts")
skipped=$(awk '{s += $4} END {print s + 0}' "$counts")
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
