#!/usr/bin/env bash
# Runs the in-process cluster tests under the race detector
# (-tags clusterrace) and fails only on a race whose racing access is in
# this module's code. proto.actor's cluster has data races of its own
# (docs/cluster.md, "Limits"); they are counted, not failed on. The tests'
# own verdict comes from the run without -race in .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
GORACE="log_path=$dir/race halt_on_error=0" go test -race -tags clusterrace -count=1 ./cluster/ >"$dir/out" 2>&1
python3 - "$dir" <<'PY'
import glob, re, sys
frame = re.compile(r'^(?:Read|Write|Previous read|Previous write|Atomic \w+) at .*\n\s+(\S+)', re.M)
ours = library = 0
for f in glob.glob(sys.argv[1] + '/race*'):
    for report in open(f).read().split('WARNING: DATA RACE')[1:]:
        if any('armistice-go/armistice' in m for m in frame.findall(report)):
            ours += 1
            print(report.split('==================')[0])
        else:
            library += 1
print(f"cluster races: {ours} in armistice's code, {library} in proto.actor's")
sys.exit(1 if ours else 0)
PY
