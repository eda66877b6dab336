#!/usr/bin/env bash
# TLS end to end (issue 10, item 9). A throwaway CA signs a certificate for 127.0.0.1/localhost;
# s3rver and Azurite serve HTTPS with it on loopback. With the CA (--ca-file, AWS_CA_BUNDLE,
# SSL_CERT_FILE) init/backup/restore/verify round-trip over https; without it every command fails
# at once with a certificate error that names the fix and no secret; an unreadable CA file is a
# usage error before any request. A plain http:// endpoint on a host that is not loopback is
# warned about (192.0.2.1 is TEST-NET-1: nothing answers, so the command fails fast with short
# timeouts); plain http:// on loopback stays quiet.
source "$(dirname "$0")/lib.sh"
source "$SR_SOURCE_DIR/tests/servers/servers.sh"

command -v openssl >/dev/null || fail "the openssl CLI is not installed"
# The caller's CA settings (a CI image may point them at the system bundle) are set per command.
unset AWS_CA_BUNDLE SSL_CERT_FILE
make_test_ca "$T/pki"
make_test_ca "$T/other"  # a CA that did not sign the servers' certificate
CA=$T/pki/ca.pem
OTHER_CA=$T/other/ca.pem
export STRONGROOM_RETRY_SECONDS=5  # a refused certificate is not retried; keep other waits short

gen_tree "$T/src" 128

# roundtrip LABEL CA_ARGS...: init, backup, restore, compare, verify --read-data on $REPO.
roundtrip() {
  local label=$1 id
  shift
  sr init --repo "$REPO" "$@"
  sr backup --repo "$REPO" --path "$T/src" --json "$@"
  id=$(json "print(d['id'])")
  sr restore --repo "$REPO" --backup "$id" --to "$T/restore-$label" "$@"
  compare_trees "$T/src" "$T/restore-$label"
  sr verify --repo "$REPO" --read-data "$@"
  grep -q "warning:" "$TRANSCRIPT" && fail "$label: a warning over https/loopback: $(cat "$TRANSCRIPT")"
  return 0
}

# untrusted CMD...: fails (non-zero) with a certificate error that gives the fix, no secret.
untrusted() {
  expect_exit nonzero "$@"
  expect_error_line
  grep -qiE "certificate" "$ERR" || fail "no certificate error: $(cat "$ERR")"
  grep -q -- "--ca-file" "$ERR" || fail "the certificate error gives no hint: $(cat "$ERR")"
  grep -qE "S3RVER|Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1|AccountKey" "$ERR" &&
    fail "a secret appears in the message: $(cat "$ERR")"
  return 0
}

# --- S3 (s3rver --cert --key) ---
start_s3rver "$T/s3rver" "$T/pki/server.pem" "$T/pki/server.key"
[[ $AWS_ENDPOINT_URL == https://* ]] || fail "s3rver is not on https: $AWS_ENDPOINT_URL"
REPO=s3://tls/repo1
: >"$TRANSCRIPT"
roundtrip s3 --ca-file "$CA"
untrusted "$SR" backups --repo "$REPO"
untrusted "$SR" backups --repo "$REPO" --ca-file "$OTHER_CA"
# The environment instead of the flag; --ca-file wins over it.
SSL_CERT_FILE=$CA sr backups --repo "$REPO"
AWS_CA_BUNDLE=$CA sr verify --repo "$REPO"
SSL_CERT_FILE=$CA untrusted "$SR" backups --repo "$REPO" --ca-file "$OTHER_CA"
# A CA file that cannot be used: kUsage (2) before any request, naming the file and its source.
expect_exit 2 "$SR" backups --repo "$REPO" --ca-file "$T/pki/missing.pem"
grep -q "missing.pem (--ca-file)" "$ERR" || fail "unclear CA file error: $(cat "$ERR")"
AWS_CA_BUNDLE=$T/pki expect_exit 2 "$SR" backups --repo "$REPO"
grep -q "AWS_CA_BUNDLE" "$ERR" || fail "the error does not name AWS_CA_BUNDLE: $(cat "$ERR")"
REPO=s3://tls/repo2
: >"$TRANSCRIPT"
SSL_CERT_FILE=$CA roundtrip s3-env

# --- Azure (Azurite --cert --key) ---
start_azurite "$T/azurite" "$T/pki/server.pem" "$T/pki/server.key"
[[ $AZURE_STORAGE_CONNECTION_STRING == *BlobEndpoint=https://* ]] || fail "Azurite is not on https"
REPO=azure://tls/repo1
: >"$TRANSCRIPT"
roundtrip azure --ca-file "$CA"
untrusted "$SR" backups --repo "$REPO"
SSL_CERT_FILE=$CA sr backups --repo "$REPO"
REPO=azure://tls/repo2
: >"$TRANSCRIPT"
SSL_CERT_FILE=$CA roundtrip azure-env

# --- plain http:// ---
export STRONGROOM_RETRY_SECONDS=0 STRONGROOM_HTTP_CONNECT_TIMEOUT=1
warned() {
  local n
  n=$(grep -c "warning: .*endpoint http://192.0.2.1:1 is plain HTTP to a host that is not loopback" "$ERR" || true)
  ((n == 1)) || fail "expected one plain-HTTP warning, got $n: $(cat "$ERR")"
  grep -q "$1" "$ERR" || fail "the warning does not say that $1 travels in clear: $(cat "$ERR")"
  grep -qE "S3RVER|Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1|sig=" "$ERR" && fail "a secret appears: $(cat "$ERR")"
  return 0
}
start=$SECONDS
AWS_ENDPOINT_URL=http://192.0.2.1:1 expect_exit nonzero "$SR" backups --repo s3://b/r
warned "signed requests"
AZURE_STORAGE_CONNECTION_STRING="AccountName=devstoreaccount1;SharedAccessSignature=sv=2020-08-04&sig=c2VjcmV0;BlobEndpoint=http://192.0.2.1:1/devstoreaccount1" \
  expect_exit nonzero "$SR" backups --repo azure://c/r
warned "SAS token"
((SECONDS - start < 20)) || fail "the unreachable endpoint took $((SECONDS - start)) s"
# Loopback over plain http is quiet.
AWS_ENDPOINT_URL=http://127.0.0.1:1 expect_exit nonzero "$SR" backups --repo s3://b/r
grep -q "warning:" "$ERR" && fail "a warning for loopback: $(cat "$ERR")"
AWS_ENDPOINT_URL=http://localhost:1 expect_exit nonzero "$SR" backups --repo s3://b/r
grep -q "warning:" "$ERR" && fail "a warning for localhost: $(cat "$ERR")"

pass
