#!/usr/bin/env bash
# Regenerates cluster/wire/wire.pb.go from wire.proto with Debian's protoc
# and protoc-gen-go at the version go.mod already has.
# --check regenerates into a temporary directory and fails if the
# committed file differs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
gobin=$(go env GOPATH)/bin
if ! command -v protoc >/dev/null; then
	echo "gen-proto: protoc is missing (apt-get install -y protobuf-compiler)" >&2
	exit 1
fi
GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@${version}"
out=cluster/wire
if [[ "${1:-}" == "--check" ]]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
PATH="$gobin:$PATH" protoc -I cluster/wire --go_out="$out" --go_opt=paths=source_relative cluster/wire/wire.proto
if [[ "${1:-}" == "--check" ]]; then
	if ! diff -u cluster/wire/wire.pb.go "$out/wire.pb.go"; then
		echo "gen-proto: cluster/wire/wire.pb.go is stale; run scripts/gen-proto.sh" >&2
		exit 1
	fi
	echo "gen-proto: cluster/wire/wire.pb.go is up to date"
fi
