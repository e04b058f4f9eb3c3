#!/usr/bin/env bash
# Runs the MLNetDeep tests on a fresh Debian 12 machine (installs what it needs first), packs every library, and ends
# with a plain "N passed, N failed" line (each packed library counts as one check).
#   bash scripts/test.sh               every test, then `dotnet pack` of every project under src/
#   bash scripts/test.sh --fast        the fast tests only (Category=Unit: no training on real data; under a minute), no packing
#   bash scripts/test.sh [dotnet test arguments, e.g. --filter FullyQualifiedName~Cnn]   (no packing)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
pack=1
args=()
for a in "$@"; do
  if [ "$a" = "--fast" ]; then args+=(--filter "Category=Unit"); pack=0; else args+=("$a"); pack=0; fi
done
results="$(pwd)/artifacts/test-results"
rm -rf "$results"
dotnet test MLNetDeep.sln -c Release --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" \
  --results-directory "$results" ${args[@]+"${args[@]}"}
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

if [ "$pack" = 1 ]; then
  # Every library must pack, with its readme and the licence, at the one version Directory.Build.props sets.
  packages="$(pwd)/artifacts/packages"
  rm -rf "$packages"
  for project in src/*/*.csproj; do
    name=$(basename "$project" .csproj)
    if dotnet pack "$project" -c Release --no-build -o "$packages" -p:RepositoryCommit="$(git rev-parse HEAD 2>/dev/null)" >/dev/null 2>&1 \
       && nupkg=$(ls "$packages/$name".[0-9]*.nupkg 2>/dev/null | head -n 1) && [ -n "$nupkg" ] \
       && LC_ALL=C grep -aq 'README.md' "$nupkg" && LC_ALL=C grep -aq 'LICENSE' "$nupkg"; then # a zip's entry names are plain text
      echo "pack: $(basename "$nupkg")"
      passed=$((passed + 1))
    else
      echo "pack: $name FAILED (run: dotnet pack $project -c Release)" >&2
      failed=$((failed + 1))
    fi
  done
fi
echo "${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
