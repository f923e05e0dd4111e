#!/usr/bin/env bash
# Runs BenchmarkPerToken (engine and channel pipeline in one process, six
# rounds each) and prints the medians and the engine/channel ratio.
# Usage: scripts/bench-per-token.sh [count]   (default 6)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-6}
bin=$(mktemp -d)/actors.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./actors
# Rounds alternate engine and channel in fresh processes, so drift on a
# shared machine hits both alike.
out=$(for _ in $(seq "$count"); do
  (cd actors && "$bin" -test.run '^$' -test.bench '^BenchmarkPerToken$' -test.benchmem)
done)
echo "$out" | grep -E '^(Benchmark|cpu:)'
echo "$out" | awk '
  /^BenchmarkPerToken\/engine/  { e[ne++] = $3; ea[nea++] = $7 }
  /^BenchmarkPerToken\/channel/ { c[nc++] = $3; ca[nca++] = $7 }
  function median(a, n,   i, j, t) {
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
  }
  END {
    me = median(e, ne); mc = median(c, nc)
    printf "median ns/token: engine %.1f, channel %.1f\n", me, mc
    printf "median allocs/token: engine %s, channel %s\n", median(ea, nea), median(ca, nca)
    printf "ratio engine/channel: %.2f (target <= 1.25)\n", me / mc
  }'
