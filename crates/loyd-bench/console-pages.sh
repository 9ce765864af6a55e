#!/bin/bash
# Times pages of the admin console on a running `loyd serve`: signs in through the
# sign-in form, then fetches each path N times and prints its status, p50, p95 and max
# in milliseconds (curl's time_total: connection, request and the whole page).
#
#   console-pages.sh BASE LOGIN PASSWORD N PATH...
#   console-pages.sh http://127.0.0.1:8099 benchadmin 'Bench-Admin-Password-1' 30 /admin/campaigns
#
# docs/performance.md ("Console pages at scale") serves loyd-bench's dataset with it.
set -euo pipefail
BASE=$1; LOGIN=$2; PASSWORD=$3; N=$4
shift 4
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT
form=$(curl -s -c "$JAR" "$BASE/admin/login")
csrf=$(echo "$form" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "login=$LOGIN" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf=$csrf" "$BASE/admin/login"
for path in "$@"; do
  code=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code}' "$BASE$path")
  times=$(for _ in $(seq "$N"); do curl -s -b "$JAR" -o /dev/null -w '%{time_total}\n' "$BASE$path"; done | sort -n)
  at() { echo "$times" | awk -v k="$1" 'NR == k { printf "%.1f", $1 * 1000 }'; }
  printf '%-60s %s  p50 %7s ms  p95 %7s ms  max %7s ms\n' "$path" "$code" "$(at $((N / 2 + 1)))" "$(at $(((N * 95 + 99) / 100)))" "$(at "$N")"
done
