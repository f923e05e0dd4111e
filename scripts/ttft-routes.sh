#!/usr/bin/env bash
# Time to first token of the native API in two round trips and in one
# (Accept: text/event-stream on the submit) and of the chat completions
# route, against one server on the embedded model, unpaced, on loopback.
# Usage: scripts/ttft-routes.sh [requests per route]   (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/armistice" ./cmd/armistice
go build -o "$dir/ttftroutes" ./scripts/ttftroutes
addr=127.0.0.1:18779
"$dir/armistice" serve --addr "$addr" --embedded-rate 0 --embedded-tokens 5 >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$dir/ttftroutes" -url "http://$addr" -n "${1:-2000}"
