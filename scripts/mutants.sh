#!/usr/bin/env bash
# The mutation check of actors/actortest: every deliberate bug (switched on
# only in builds with the "mutants" tag) is run under exploration (at most
# 1,000 schedules each) and under the single FIFO schedule. The last line
# is the summary: "mutants killed: explore K/N, fifo F/N".
set -euo pipefail
cd "$(dirname "$0")/.."
set +e
out=$(go test -tags mutants -count=1 -run '^TestMutants$' -v ./actors/actortest/ 2>&1)
rc=$?
set -e
echo "$out" | grep -E 'explore:|fifo:|took' | sed -E 's/^ *mutants_test.go:[0-9]+: //'
if [ "$rc" -ne 0 ]; then
  echo "$out" | grep -vE 'explore:|fifo:' | tail -40
fi
summary=$(echo "$out" | grep -oE 'mutants killed: explore [0-9]+/[0-9]+, fifo [0-9]+/[0-9]+' | tail -1)
echo "${summary:-mutants killed: none measured (the run failed)}"
exit "$rc"
