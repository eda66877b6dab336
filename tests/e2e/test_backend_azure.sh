#!/usr/bin/env bash
# The round trip against Azure Blob Storage (Azurite on loopback): init creates the container,
# large packs go up as staged blocks + Put Block List, restore is byte-identical, verify reads
# every chunk back; a wrong account key fails at once with a clear 403.
source "$(dirname "$0")/lib.sh"
source "$SR_SOURCE_DIR/tests/servers/servers.sh"
source "$SR_SOURCE_DIR/tests/servers/backend_roundtrip.sh"

start_azurite "$T/azurite"
REPO=azure://backups/team/repo1

backend_tree "$T/src"
backend_roundtrip "$T/src" "comp=blocklist"

# A wrong key: 403 (AuthenticationFailed on Azure, AuthorizationFailure on Azurite), named, no secret in the message, not retried for long.
good=$AZURE_STORAGE_CONNECTION_STRING
wrong_key=$(head -c 64 /dev/urandom | base64 -w0)
export AZURE_STORAGE_CONNECTION_STRING=${good/AccountKey=$AZURITE_KEY/AccountKey=$wrong_key}
start=$SECONDS
expect_exit 4 "$SR" backups --repo "$REPO"
((SECONDS - start < 10)) || fail "a 403 took $((SECONDS - start)) s to be reported"
expect_error_line
grep -Eq "azure: GET config: 403 (AuthenticationFailed|AuthorizationFailure)" "$ERR" || fail "unclear 403 message: $(cat "$ERR")"
grep -q "AccountKey" "$ERR" || fail "the 403 message gives no hint: $(cat "$ERR")"
grep -qF "$wrong_key" "$ERR" && fail "the key appears in the message"
export AZURE_STORAGE_CONNECTION_STRING=$good

# An object-store repository in a container that another prefix already uses stays separate.
REPO=azure://backups/team/repo2
init_repo
sr backups --repo "$REPO" --json
json 'assert d == [], d'

pass
