#!/usr/bin/env bash
# What a fresh clone costs (issue 15, "Weight"): with empty module and
# build caches, the modules `go build ./cmd/armistice` downloads, the cold
# compile, the binary, and where the binary's bytes and the compile's
# seconds go, by module. The caches are temporary; nothing outside them is
# touched.
#
# Usage: scripts/weight.sh [--all]
#   --all  also download every module the tests need (`go mod download`),
#          as `go test ./...` would on a fresh clone.
#
# Needs Go and python3; the download time depends on your network and
# proxy, the compile time on the cores (2 in docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
all=false
[ "${1:-}" = --all ] && all=true
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export GOMODCACHE=$tmp/mod GOCACHE=$tmp/build GOFLAGS=-modcacherw

secs() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }
zips() { find "$GOMODCACHE/cache/download" -name '*.zip' "$@"; }
megabytes() { du -cb "$@" 2>/dev/null | tail -1 | awk '{printf "%.1f", $1/1e6}'; }

echo "go: $(go version), $(nproc) cores, GOPROXY=$(go env GOPROXY)"

t=$(date +%s.%N)
go list -deps ./cmd/armistice >/dev/null
echo "download for the server: $(zips | wc -l) module zips, $(zips -print0 | xargs -0 du -cb | tail -1 | awk '{printf "%.1f", $1/1e6}') MB zipped, $(megabytes "$GOMODCACHE") MB in the module cache, $(secs "$t") s"

t=$(date +%s.%N)
go build -debug-actiongraph="$tmp/actions.json" -o "$tmp/armistice" ./cmd/armistice
echo "cold build of cmd/armistice: $(secs "$t") s"
echo "binary: $(stat -c %s "$tmp/armistice" | awk '{printf "%.1f", $1/1e6}') MB; text $(size -A "$tmp/armistice" | awk '$1==".text"{printf "%.1f", $2/1e6}') MB, pclntab $(size -A "$tmp/armistice" | awk '$1==".gopclntab"{printf "%.1f", $2/1e6}') MB, DWARF $(size -A "$tmp/armistice" | awk '$1 ~ /^\.(z)?debug/{s+=$2} END{printf "%.1f", s/1e6}') MB"
go build -ldflags='-s -w' -o "$tmp/armistice-sw" ./cmd/armistice
echo "binary built with -ldflags='-s -w' (no symbol table, no DWARF): $(stat -c %s "$tmp/armistice-sw" | awk '{printf "%.1f", $1/1e6}') MB"

if $all; then
  t=$(date +%s.%N)
  go mod download
  echo "download of every module (go mod download, as the tests need): $(zips | wc -l) zips, $(megabytes "$GOMODCACHE") MB in the module cache, $(secs "$t") s"
fi

echo
echo "by module: binary bytes (go tool nm -size; bss left out) and compile seconds (sum over the module's packages, cold):"
go tool nm -size -type "$tmp/armistice" >"$tmp/nm.txt"
go list -deps -f '{{.ImportPath}} {{with .Module}}{{.Path}}{{else}}std{{end}}' ./cmd/armistice >"$tmp/modules.txt"
python3 - "$tmp/nm.txt" "$tmp/actions.json" "$tmp/modules.txt" <<'EOF'
import collections, datetime, json, re, sys
nm, actions, modules = sys.argv[1:]
mod_of = dict(line.split() for line in open(modules))
# The longest module path that prefixes a symbol's package names it.
paths = sorted(set(mod_of.values()) - {"std"}, key=len, reverse=True)
def module(sym):
    sym = re.sub(r'^(type:|go:itab\.|go:)\*?', '', sym).lstrip('*(')
    for p in paths:
        if sym.startswith(p + '.') or sym.startswith(p + '/'):
            return p
    return 'std and runtime'
syms = [l.split(None, 3) for l in open(nm)]
syms = [(int(f[0], 16), int(f[1]), f[2], f[3].strip()) for f in syms if len(f) == 4]
at = {name: addr for addr, _, _, name in syms}
# Zeroed memory (bss, noptrbss) takes no room in the file, even where nm
# types a symbol D (crypto/internal/fips140/drbg.memory: 32 MiB).
zeroed = [(at['runtime.bss'], at['runtime.ebss']), (at['runtime.noptrbss'], at['runtime.enoptrbss'])]
size = collections.Counter()
for addr, n, typ, name in syms:
    if typ not in 'bBU' and not any(lo <= addr < hi for lo, hi in zeroed):
        size[module(name)] += n
def ts(s):
    s = re.sub(r'(\.\d{6})\d*', r'\1', s).replace('Z', '+00:00')
    return datetime.datetime.fromisoformat(s).timestamp()
secs = collections.Counter()
for a in json.load(open(actions)):
    if a.get('Mode') == 'build' and a.get('NeedBuild') and a.get('TimeStart') and a.get('TimeDone'):
        m = mod_of.get(a.get('Package', ''), 'std')
        secs['std and runtime' if m == 'std' else m] += ts(a['TimeDone']) - ts(a['TimeStart'])
rows = sorted(set(size) | set(secs), key=lambda k: -size[k])
print(f"{'MB':>7} {'s':>7}  module (symbols only: the pclntab, names and DWARF come on top)")
for k in rows:
    print(f"{size[k]/1e6:7.2f} {secs[k]:7.1f}  {k}")
print(f"{sum(size.values())/1e6:7.2f} {sum(secs.values()):7.1f}  total (compile seconds summed over 2 parallel workers)")
EOF
