#!/usr/bin/env bash
# Runs every test project (in parallel, as `dotnet test` does), then prints one line
# `N passed, N failed, N skipped` counted from the TRX reports, with the names of the skipped
# (inconclusive) tests before it. Exits non-zero on any failure or when no test ran, and under
# CI=true on any skipped test not listed in eng/gpu-only-tests.txt (CI installs every other
# prerequisite, so another skip means coverage silently lost).
set -uo pipefail
cd "$(dirname "$0")/.."

bash eng/install-prerequisites.sh || exit 1
rm -rf artifacts/test-results

dotnet test "$@"
status=$?

allowed=$(grep -v '^[[:space:]]*\(#\|$\)' eng/gpu-only-tests.txt | tr -d '[:blank:]\r')
is_gpu_only() { grep -qxF "$1" <<<"$allowed"; }

passed=0; failed=0; skipped=0; skipped_names=(); refused_names=()
for trx in artifacts/test-results/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
  # MSTest reports Assert.Inconclusive as outcome NotExecuted; older writers say Inconclusive.
  while IFS= read -r result; do
    name=$(sed -n 's/.* testName="\([^"]*\)".*/\1/p' <<<"$result" | sed 's/&quot;/"/g; s/&apos;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g')
    project=$(basename "$(dirname "$trx")")
    if [ "${CI:-}" = "true" ] && ! is_gpu_only "${name%% (*}"; then
      refused_names+=("$project: $name")
      failed=$((failed + 1))
    else
      skipped_names+=("$project: $name")
      skipped=$((skipped + 1))
    fi
  done < <(grep -o '<UnitTestResult [^>]*>' "$trx" | grep -E 'outcome="(NotExecuted|Inconclusive)"')
done

if [ ${#skipped_names[@]} -gt 0 ]; then
  echo "Skipped (a prerequisite is missing here, which eng/install-prerequisites.sh installs, or the test is GPU-only: eng/gpu-only-tests.txt):"
  printf '  %s\n' "${skipped_names[@]}"
fi
if [ ${#refused_names[@]} -gt 0 ]; then
  echo "Skipped under CI, counted as failed (CI installs every prerequisite; only the tests in eng/gpu-only-tests.txt may skip):"
  printf '  %s\n' "${refused_names[@]}"
fi
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
  echo "dotnet test exited with $status without a failed test to show for it (a build error or a crashed test host: see above)."
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
  echo "No test ran."
  [ $status -eq 0 ] && status=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $status -ne 0 ] && exit $status
[ $failed -ne 0 ] && exit 1
exit 0
