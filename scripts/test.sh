#!/usr/bin/env bash
# Runs every MLNetDeep test on a fresh Debian 12 machine (installs what it needs first) and ends with
# a plain "N passed, N failed" line taken from the test results.
#   bash scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Cnn]
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
results="$(pwd)/artifacts/test-results"
rm -rf "$results"
dotnet test MLNetDeep.sln -c Release --logger "trx;LogFileName=results.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?
trx=$(find "$results" -name '*.trx' 2>/dev/null | head -n 1)
if [ -z "$trx" ]; then
  echo "0 passed, 1 failed"
  echo "test.sh: no test results were written (the build or the test host failed; see above)" >&2
  exit 1
fi
counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
passed=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p')
failed=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
errors=$(echo "$counters" | sed -n 's/.* error="\([0-9]*\)".*/\1/p')
failed=$(( ${failed:-0} + ${errors:-0} ))
echo "${passed:-0} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
