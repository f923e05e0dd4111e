#!/usr/bin/env bash
# A fresh clone's first run (issue 15): with empty module and build
# caches, the seconds from `go run ./cmd/armistice serve` to the first
# answer of /healthz (downloads, compile, start). The caches are
# temporary; nothing outside them is touched.
#
# Usage: scripts/first-run.sh [PORT]   (default 18080, on 127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-18080}
tmp=$(mktemp -d)
export GOMODCACHE=$tmp/mod GOCACHE=$tmp/build GOFLAGS=-modcacherw
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  chmod -R u+w "$tmp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "go: $(go version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), GOPROXY=$(go env GOPROXY)"
start=$(date +%s.%N)
set -m # its own process group, so the server under go run stops with it
go run ./cmd/armistice serve --addr "127.0.0.1:$port" >"$tmp/serve.log" 2>&1 &
pid=$!
set +m
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the server exited:"; cat "$tmp/serve.log"; exit 1
  fi
  sleep 0.2
done
end=$(date +%s.%N)
echo "first run: go run ./cmd/armistice serve answered /healthz after $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s"
echo "modules downloaded: $(find "$GOMODCACHE/cache/download" -name '*.zip' | wc -l) zips, $(du -sb "$GOMODCACHE" | awk '{printf "%.1f", $1/1e6}') MB in the module cache"
