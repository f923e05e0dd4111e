#!/usr/bin/env bash
# How deep each kind of idle goroutine parks, frame by frame: the figures
# behind docs/benchmarks.md's "Idle memory". It builds armistice-bench,
# runs the quick idle scenario with --idle-goroutines, and for the most
# common stacks of SYSTEM (armistice, baseline, direct, "armistice
# (queued)"; default armistice) prints each function's frame size (from
# the SP adjustment in its prologue, go tool objdump) and the total.
#
# A goroutine's stack is halved by the garbage collector only while the
# part in use plus 800 bytes of guard is under a quarter of it, so a
# goroutine parked D bytes deep keeps 8 KB when D + 800 < 4,096 and
# 16 KB when D + 800 < 8,192 (if it ever grew that far).
#
#   scripts/parked-depth.sh [SYSTEM] [-- extra armistice-bench flags, e.g. --upstream-http h2c]
set -euo pipefail
cd "$(dirname "$0")/.."
system=${1:-armistice}
shift || true
[ "${1:-}" = "--" ] && shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/bench" ./cmd/armistice-bench
"$dir/bench" --quick --only idle --out "$dir" --idle-goroutines "$dir/g" "$@" >/dev/null
dump="$dir/g-$system.txt"
# One line per goroutine: its functions, innermost first, "|"-separated.
awk '
  /^goroutine / {
    if (s != "") print s
    s = ""
    # The runtime frames a dump hides, by the state it shows.
    if ($0 ~ /\[select/) s = "runtime.selectgo"
    else if ($0 ~ /\[chan receive/) s = "runtime.chanrecv|runtime.chanrecv1"
    next
  }
  /^\t/ || /^created by / || /^$/ { next }
  { f = $0; sub(/\([^()]*\)$/, "", f); sub(/\(\.\.\.\)$/, "", f); s = (s == "" ? f : s "|" f) }
  END { if (s != "") print s }' "$dump" | sort | uniq -c | sort -rn | head -6 |
while read -r count stack; do
  echo "== $count goroutines"
  total=0
  IFS='|' read -ra fns <<< "runtime.gopark|$stack"
  for fn in "${fns[@]}"; do
    # Escaped for objdump's regexp; a generic's "[...]" stands for its shape.
    pat="^$(printf '%s' "$fn" | sed 's/[][\.*^$(){}+?|/]/\\&/g; s/\\\[\\\.\\\.\\\.\\\]/\\[.*\\]/g')\$"
    frame=$(go tool objdump -s "$pat" "$dir/bench" 2>/dev/null |
      awk 'match($0, /(SUBQ \$0x[0-9a-f]+, SP|ADDQ \$-0x[0-9a-f]+, SP)/) { s = substr($0, RSTART, RLENGTH); sub(/.*\$-?0x/, "", s); sub(/,.*/, "", s); print s; exit }')
    if [ -n "$frame" ]; then frame=$((16#$frame + 16)); else frame=8; fi
    total=$((total + frame))
    printf '%6d  %s\n' "$frame" "$fn"
  done
  printf '%6d  total (with the return address and frame pointer of each)\n' "$total"
done
