#!/bin/sh
# Runs every libFuzzer target in build-fuzz/ (make fuzz-build) for FUZZ_SECONDS (default 60) each, over its
# seed corpus fuzz/corpus/<target>/ (read only: new inputs go to a scratch folder). A crash, leak or
# sanitizer report fails the target; its input is kept in build-fuzz/crashes/. Prints "fuzz: N passed, N
# failed" and appends the counts to $AUTOPILOT_COUNTS when set (scripts/test.sh).
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
passed=0
failed=0
mkdir -p build-fuzz/crashes
for t in build-fuzz/*; do
  [ -f "$t" ] && [ -x "$t" ] || continue
  name=$(basename "$t")
  scratch=$(mktemp -d)
  log=build-fuzz/$name.log
  # -rss_limit_mb: a parser that balloons memory on some input is a finding too
  dict=""
  [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
  if "$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 $dict \
      -artifact_prefix="build-fuzz/crashes/$name-" "$scratch" "fuzz/corpus/$name" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "ok fuzz $name: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs in ${secs} s"
  else
    failed=$((failed + 1))
    echo "not ok fuzz $name (see $log):"
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
  fi
  rm -rf "$scratch"
done
echo "fuzz: $passed passed, $failed failed"
[ -n "${AUTOPILOT_COUNTS:-}" ] && echo "fuzz $passed $failed 0" >>"$AUTOPILOT_COUNTS"
[ "$failed" -eq 0 ]
