#!/usr/bin/env bash
# Runs every test project (in parallel, as `dotnet test` does), then prints one line
# `N passed, N failed` counted from the TRX reports, and exits non-zero on any failure
# or when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."

bash eng/install-prerequisites.sh || exit 1
rm -rf artifacts/test-results

dotnet test "$@"
status=$?

passed=0; failed=0
for trx in artifacts/test-results/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
done

if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
  echo "dotnet test exited with $status without a failed test to show for it (a build error or a crashed test host: see above)."
fi
if [ $((passed + failed)) -eq 0 ]; then
  echo "No test ran."
  [ $status -eq 0 ] && status=1
fi
echo "$passed passed, $failed failed"
[ $status -ne 0 ] && exit $status
[ $failed -ne 0 ] && exit 1
exit 0
