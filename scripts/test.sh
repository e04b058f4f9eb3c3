#!/usr/bin/env bash
# Runs every MLNetDeep test on a fresh Debian 12 machine (installs what it needs first) and ends with
# a plain "N passed, N failed" line taken from the test results.
#   bash scripts/test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Cnn]
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
results="$(pwd)/artifacts/test-results"
rm -rf "$results"
dotnet test MLNetDeep.sln -c Release --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?
# one .trx per test project (MLNetDeep.Tests, MLNetDeep.ImageTests): the counts are summed
trx_files=$(find "$results" -name '*.trx' 2>/dev/null)
if [ -z "$trx_files" ]; then
  echo "0 passed, 1 failed"
  echo "test.sh: no test results were written (the build or the test host failed; see above)" >&2
  exit 1
fi
passed=0
failed=0
for trx in $trx_files; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p')
  f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  e=$(echo "$counters" | sed -n 's/.* error="\([0-9]*\)".*/\1/p')
  passed=$(( passed + ${p:-0} ))
  failed=$(( failed + ${f:-0} + ${e:-0} ))
done
echo "${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
