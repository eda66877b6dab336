#!/usr/bin/env bash
# The storage conformance suite (src/storage/storage_conformance_test.cc) on all four backends,
# and the two-repository test (src/ops/replicate_test.cc: an S3 and an Azure repository with
# different credentials, endpoints, list page sizes and retry budgets in one process, replicated
# from one to the other). Starts s3rver and Azurite, hands them to the unit-test binary through
# SR_TEST_* variables (never AWS_* / AZURE_*: see src/testing/object_stores.h) and fails when
# any test fails or is skipped.
source "$(dirname "$0")/lib.sh"
source "$SR_SOURCE_DIR/tests/servers/servers.sh"

UNIT=${SR_UNIT_TESTS:-}
[[ -n $UNIT && -x $UNIT ]] || fail "SR_UNIT_TESTS does not name the unit-test binary (run through ctest)"

start_s3rver "$T/s3rver"
start_azurite "$T/azurite"
export SR_TEST_S3_ENDPOINT=$AWS_ENDPOINT_URL SR_TEST_S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID
export SR_TEST_S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY
export SR_TEST_AZURE_CONNECTION_STRING=$AZURE_STORAGE_CONNECTION_STRING
# The unit tests get their settings from these only: nothing else may reach them.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ENDPOINT_URL AZURE_STORAGE_CONNECTION_STRING

filter='StorageConformance/*:TwoRepositories.*'
"$UNIT" --gtest_filter="$filter" --gtest_brief=0 >"$T/unit.log" 2>&1 || {
  cat "$T/unit.log" >&2
  fail "the conformance suite failed"
}
grep -q "SKIPPED" "$T/unit.log" && { grep "SKIPPED" "$T/unit.log" >&2; fail "tests were skipped"; }
ran=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p' "$T/unit.log")
for suite in Local Memory S3 Azure; do
  grep -q "^\[       OK \] StorageConformance/$suite\." "$T/unit.log" ||
    fail "no conformance test ran on $suite"
done
grep -q "^\[       OK \] TwoRepositories\." "$T/unit.log" || fail "the two-repository test did not run"
echo "conformance: $ran tests passed on local, memory, S3 and Azure"
pass
