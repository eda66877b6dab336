#!/usr/bin/env bash
# Resilience: the round trip through tests/servers/faultproxy.py, which answers 503/500, drops
# connections before and after forwarding (so some writes land without their answer) and stalls
# past the client's stall timeout, in front of Azurite and of s3rver (made strict about
# If-None-Match by the proxy). Backups, restores and
# verify --read-data must still complete, and a permanent 403 must still fail within seconds.
source "$(dirname "$0")/lib.sh"
source "$SR_SOURCE_DIR/tests/servers/servers.sh"
source "$SR_SOURCE_DIR/tests/servers/backend_roundtrip.sh"

export STRONGROOM_HTTP_STALL_SECONDS=2 STRONGROOM_HTTP_CONNECT_TIMEOUT=5 STRONGROOM_RETRY_SECONDS=90
SEED=${FAULTPROXY_SEED:-4242}

backend_tree "$T/src" 60  # fewer files: restore and verify fetch chunk by chunk

check_faults() {
  local n kinds
  n=$(grep -vc '^precondition' "$FAULTPROXY_LOG" || true)
  kinds=$(grep -v '^precondition' "$FAULTPROXY_LOG" | cut -d' ' -f1 | sort -u | wc -l)
  note "$1: $n faults injected ($(cut -d' ' -f1 "$FAULTPROXY_LOG" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
  ((n >= 10 && kinds >= 4)) || fail "$1: the proxy injected too few faults ($n of $kinds kinds)"
}

# Azure through the proxy.
start_azurite "$T/azurite"
start_faultproxy "$AZURITE_PORT" "$SEED" --rate 0.15 --stall 4
export AZURE_STORAGE_CONNECTION_STRING=${AZURE_STORAGE_CONNECTION_STRING/127.0.0.1:$AZURITE_PORT/127.0.0.1:$FAULTPROXY_PORT}
REPO=azure://faults/repo
backend_roundtrip "$T/src" "comp=blocklist"
check_faults azure
good=$AZURE_STORAGE_CONNECTION_STRING
export AZURE_STORAGE_CONNECTION_STRING=${good/AccountKey=$AZURITE_KEY/AccountKey=$(head -c 64 /dev/urandom | base64 -w0)}
start=$SECONDS
expect_exit 4 "$SR" backups --repo "$REPO"
((SECONDS - start < 10)) || fail "azure: a 403 through the proxy took $((SECONDS - start)) s"
grep -q "azure: GET config: 403" "$ERR" || fail "azure: unclear 403 message: $(cat "$ERR")"
export AZURE_STORAGE_CONNECTION_STRING=$good

# S3 through the proxy.
start_s3rver "$T/s3rver"
# s3rver ignores If-None-Match: the proxy enforces it, so a put whose answer was lost meets 412
# on its retry, as on AWS, and must recognise its own object.
start_faultproxy "$S3RVER_PORT" "$((SEED + 1))" --rate 0.15 --stall 4 --strict-conditional
export AWS_ENDPOINT_URL="http://127.0.0.1:$FAULTPROXY_PORT"
REPO=s3://faults/repo
backend_roundtrip "$T/src" "uploadId="
check_faults s3
start=$SECONDS
AWS_ACCESS_KEY_ID=AKIAWRONGWRONGWRONG expect_exit 4 "$SR" backups --repo "$REPO"
((SECONDS - start < 10)) || fail "s3: a 403 through the proxy took $((SECONDS - start)) s"
grep -q "s3: GET config: 403" "$ERR" || fail "s3: unclear 403 message: $(cat "$ERR")"

pass
