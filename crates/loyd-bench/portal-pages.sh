#!/bin/bash
# Times the customer portal's pages on a running `loyd serve`: signs PHONE in through
# the sign-in form with the code the SMS gateway (portal-sms.py) wrote to SMS_FILE,
# then fetches each path N times and prints its status, p50, p95 and max in
# milliseconds (curl's time_total: connection, request and the whole page) and the
# page's size.
#
#   portal-pages.sh BASE SMS_FILE PHONE N PATH...
#   portal-pages.sh http://127.0.0.1:8099 /tmp/sms.log +37120531802 30 /portal /portal/history
#
# docs/performance.md ("Customer portal at scale") serves loyd-bench's dataset with it.
set -euo pipefail
BASE=$1; SMS=$2; PHONE=$3; N=$4
shift 4
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT
form=$(curl -s -c "$JAR" "$BASE/portal/login")
csrf=$(echo "$form" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
sent=$( (wc -l < "$SMS") 2>/dev/null || echo 0)
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "to=$PHONE" --data-urlencode "csrf=$csrf" "$BASE/portal/login"
code=""
for _ in $(seq 50); do
  code=$(tail -n +"$((sent + 1))" "$SMS" 2>/dev/null | grep -F "\"$PHONE\"" | tail -1 | grep -o 'code: [0-9]*' | grep -o '[0-9]*' || true)
  [ -n "$code" ] && break
  sleep 0.2
done
[ -n "$code" ] || { echo "no code came for $PHONE" >&2; exit 1; }
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "to=$PHONE" --data-urlencode "code=$code" --data-urlencode "csrf=$csrf" "$BASE/portal/code"
for path in "$@"; do
  code=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code}' "$BASE$path")
  size=$(curl -s -b "$JAR" -o /dev/null -w '%{size_download}' "$BASE$path")
  times=$(for _ in $(seq "$N"); do curl -s -b "$JAR" -o /dev/null -w '%{time_total}\n' "$BASE$path"; done | sort -n)
  at() { echo "$times" | awk -v k="$1" 'NR == k { printf "%.1f", $1 * 1000 }'; }
  printf '%-40s %s  %6s B  p50 %7s ms  p95 %7s ms  max %7s ms\n' "$path" "$code" "$size" "$(at $((N / 2 + 1)))" "$(at $(((N * 95 + 99) / 100)))" "$(at "$N")"
done
