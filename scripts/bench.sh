#!/bin/sh
# Runs the benchmarks of bench/ against the emulator on loopback and writes bench/RESULTS.md: every figure
# with the date, the machine and the command that produced it. Each benchmark prints its ratios as
# "RESULT|benchmark|figure|value|target|verdict" lines (see bench/common.lua) and commentary on stderr.
#   sh scripts/bench.sh                  all of them (about ten minutes: the sequential loop alone takes five)
#   sh scripts/bench.sh latency raw      some: scenario1 (benchmarks 1 and 4), latency, raw, listing,
#                                        emulator_load (the emulator under wrk), soak (RSS and descriptors),
#                                        embed (the latency-bound run inside a luv loop)
# Environment: BENCH_SEQ=0 skips the sequential SDK-style loop, BENCH_CALLGRIND=0 the instruction counts.
set -u
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
LUA_PATH="./?.lua;lua/?.lua;lua/?/init.lua;;"
LUA_CPATH="build/?.so;;"
export LUA_PATH LUA_CPATH

benches=${*:-scenario1 latency raw listing emulator_load soak embed}
flags=""
[ "${BENCH_SEQ:-}" = 0 ] && flags="${flags}BENCH_SEQ=0 "
[ "${BENCH_CALLGRIND:-}" = 0 ] && flags="${flags}BENCH_CALLGRIND=0 "
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
failed=0

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
machine="$(nproc) CPUs ($cpu), $(uname -m), $(uname -sr)"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

for b in $benches; do
  if [ -f "bench/$b.lua" ]; then
    cmd="$LUA bench/$b.lua"
  elif [ -f "bench/$b.sh" ]; then
    cmd="sh bench/$b.sh"
  else
    echo "no benchmark bench/$b.lua or bench/$b.sh" >&2; failed=1; continue
  fi
  echo "== $cmd" >&2
  when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  out=$($cmd) || { echo "$cmd failed" >&2; failed=1; }
  printf '%s\n' "$out" | grep '^RESULT|' | while IFS='|' read -r _ name figure value target verdict; do
    printf '| %s | %s | %s | %s | %s | %s | `%ssh scripts/bench.sh %s` |\n' "$name" "$figure" "$value" "$target" \
      "$verdict" "$when" "$flags" "$b" >>"$rows"
    printf '%-24s %-70s %12s %8s %s\n' "$name" "$figure" "$value" "$target" "$verdict" >&2
  done
done

{
  echo "# Benchmark results"
  echo
  echo "Written by \`sh scripts/bench.sh\` (\`make bench\`); each row is one figure of the last run."
  echo
  echo "- Date: $started (UTC)"
  echo "- Machine: $machine"
  echo "- Load average before the run: $load_before (the machine may be shared: figures are ratios measured"
  echo "  in the same run, which such load disturbs less than absolute rates)"
  echo "- Lua: $($LUA -v 2>&1 | head -n 1); curl: $(curl --version 2>/dev/null | head -n 1 | cut -d' ' -f1-2)"
  echo
  echo "| benchmark | figure | value | target | verdict | time (UTC) | command |"
  echo "|---|---|---|---|---|---|---|"
  cat "$rows"
  echo
  echo "How each figure is defined: the header comment of each file in bench/."
} >bench/RESULTS.md
echo "wrote bench/RESULTS.md" >&2
exit $failed
