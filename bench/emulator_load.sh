#!/bin/sh
# Requests/s the emulator serves on loopback to a 32-connection load (wrk).
#   sh bench/emulator_load.sh [seconds]        (default 5)
# 1. bin/autopilot-emulator with the default tenant app: GET one device with a valid token.
# 2. The same host with the echo app of the specs (spec/support/echo_app.lua): the host's own ceiling.
# Prints both figures and their ratio (how much of the host's ceiling the tenant app keeps).
set -eu
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-5}
CONNS=32
THREADS=2
LUA=${LUA:-lua5.4}
for tool in wrk curl "$LUA"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "emulator_load: $tool is not installed" >&2; exit 2; }
done
[ -f build/autopilot/emulator/host.so ] || make build >&2

work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Starts the emulator with the given flags; sets url (and pid) from its first line.
start() {
  bin/autopilot-emulator --port 0 "$@" >"$work/out" 2>"$work/err" &
  pid=$!
  i=0
  while ! grep -q '^client_secret: ' "$work/out" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "emulator_load: the emulator did not start:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    sleep 0.05
  done
  url=$(sed -n 1p "$work/out")
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

json_field() { # json_field FIELD < json  (top-level string field, or .value[1].FIELD with "value.")
  FIELD=$1 "$LUA" -e '
    local j = require("cjson.safe").decode(io.read("a")) or {}
    local f = os.getenv("FIELD")
    local v = f:match("^value%.(.+)$") and (j.value or {})[1] and j.value[1][f:match("^value%.(.+)$")] or j[f]
    io.write(v ~= nil and tostring(v) or "")'
}

# wrk's Requests/sec and the count of non-2xx answers.
load() {
  wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_RUN}s" "$@" >"$work/wrk" 2>&1 || { cat "$work/wrk" >&2; exit 1; }
  rps=$(sed -n 's/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$work/wrk")
  bad=$(sed -n 's/^[[:space:]]*Non-2xx or 3xx responses:[[:space:]]*\([0-9]*\).*/\1/p' "$work/wrk")
  bad=${bad:-0}
}

# 1. the tenant app
start --devices 1000 --seed 7
tenant=$(sed -n 's/^tenant: //p' "$work/out")
client_id=$(sed -n 's/^client_id: //p' "$work/out")
client_secret=$(sed -n 's/^client_secret: //p' "$work/out")
token=$(curl -sS --max-time 30 "$url/$tenant/oauth2/v2.0/token" \
  --data-urlencode grant_type=client_credentials --data-urlencode "client_id=$client_id" \
  --data-urlencode "client_secret=$client_secret" --data-urlencode scope=https://graph.microsoft.com/.default |
  json_field access_token)
[ -n "$token" ] || { echo "emulator_load: no token from $url/$tenant/oauth2/v2.0/token" >&2; exit 1; }
device=$(curl -sS --max-time 30 -H "Authorization: Bearer $token" -g \
  "$url/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?\$top=1" | json_field value.id)
[ -n "$device" ] || { echo "emulator_load: no device listed" >&2; exit 1; }
target="$url/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/$device"
[ "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$target")" = 200 ] ||
  { echo "emulator_load: GET $target is not 200" >&2; exit 1; }
load -H "Authorization: Bearer $token" "$target"
app_rps=$rps
app_bad=$bad
stop

# 2. the host alone, with the echo app
LUA_PATH="spec/support/?.lua;;" start --app echo_app
load -H "x-reply-size: 600" "$url/echo"
echo_rps=$rps
echo_bad=$bad
stop

# commentary on stderr, figures as RESULT lines on stdout (scripts/bench.sh collects them)
echo "emulator GET device (tenant app), $CONNS connections, ${SECONDS_RUN}s: $app_rps requests/s ($app_bad non-2xx)" >&2
echo "emulator host ceiling (echo app),  $CONNS connections, ${SECONDS_RUN}s: $echo_rps requests/s ($echo_bad non-2xx)" >&2
echo "RESULT|6 emulator|requests/s, GET one device, $CONNS connections (wrk)|$app_rps|||"
echo "RESULT|6 emulator|requests/s, host alone (echo app), $CONNS connections (wrk)|$echo_rps|||"
"$LUA" -e "print(('RESULT|6 emulator|tenant app / host ceiling|%.2f|||'):format($app_rps / $echo_rps))"
echo "RESULT|6 emulator|non-2xx answers|$((app_bad + echo_bad))|0|$([ $((app_bad + echo_bad)) = 0 ] && echo met || echo missed)"
[ "$app_bad" = 0 ] && [ "$echo_bad" = 0 ]
