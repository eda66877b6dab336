#!/usr/bin/env bash
# Replication across all three backends: local -> Azurite -> s3rver, then a restore from the last
# replica is byte-identical, its WAL reads back, and verify --read-data passes there. A second
# run copies nothing; the lag (--dry-run --json) counts a new backup until it is replicated; a
# backup written while replication runs is picked up by the next run; a damaged pack in the
# source stops replication with exit 3 before any index or manifest that needs it is copied; a
# location holding something else is refused.
source "$(dirname "$0")/lib.sh"
source "$SR_SOURCE_DIR/tests/servers/servers.sh"

start_azurite "$T/azurite"
start_s3rver "$T/s3rver"
AZ=azure://replica/region2
S3=s3://replica/region3

init_repo
gen_tree "$T/src" 2048
head -c 3000000 /dev/urandom >"$T/src/big.bin"
sr backup --repo "$REPO" --path "$T/src"
# A WAL segment (no long page header: no cluster identity to check).
head -c $((16 << 20)) /dev/zero >"$T/000000010000000000000001"
printf 'x' | dd of="$T/000000010000000000000001" bs=1 seek=100000 conv=notrunc status=none
sr wal-push --repo "$REPO" "$T/000000010000000000000001"

sr replicate --from "$REPO" --to "$AZ" --json
json "assert d['created'] and d['copied_objects'] == d['lag']['objects'] > 0, d"
sr replicate --from "$AZ" --to "$S3" --json
json "assert d['created'] and d['copied_objects'] > 0, d"
sr replicate --from "$REPO" --to "$AZ" --json
json "assert d['copied_objects'] == 0 and d['lag']['objects'] == 0, d"

# The last replica opens with the same password and restores the same bytes.
sr backups --repo "$S3" --json
json "assert len(d) == 1, d"
sr restore --repo "$S3" --to "$T/restored"
compare_trees "$T/src" "$T/restored"
sr wal-get --repo "$S3" 000000010000000000000001 "$T/wal.back"
cmp "$T/wal.back" "$T/000000010000000000000001" || fail "WAL from the replica differs"
sr verify --repo "$S3" --read-data

# Lag: a new backup is missing from the replica until the next run; one written while a run
# goes on is taken by the following run.
echo changed >"$T/src/new-file"
sr backup --repo "$REPO" --path "$T/src"
sr replicate --from "$REPO" --to "$AZ" --dry-run --json
json "assert d['lag']['objects'] >= 3 and d['lag']['newest_unreplicated_backup_age_seconds'] >= 0, d"
echo more >"$T/src/another"
"$SR" backup --repo "$REPO" --path "$T/src" >/dev/null 2>"$T/bg.err" &
bg=$!
sr replicate --from "$REPO" --to "$AZ"
wait "$bg" || fail "backup during replication failed: $(cat "$T/bg.err")"
sr replicate --from "$REPO" --to "$AZ"
sr replicate --from "$AZ" --to "$S3"
sr backups --repo "$S3" --json
json "assert len(d) == 3, d"
sr verify --repo "$S3"
sr restore --repo "$S3" --to "$T/restored3"
compare_trees "$T/src" "$T/restored3"

# Damage in the source is not spread: exit 3, and no manifest reaches the new replica.
cp -r "$REPO" "$T/damaged"
pack=$(find "$T/damaged/data" -type f | head -1)
printf 'XXXX' | dd of="$pack" bs=1 seek=300 conv=notrunc status=none
expect_exit 3 "$SR" replicate --from "$T/damaged" --to "$T/replica-of-damaged"
grep -Eq "pack [0-9a-f]{64} (failed authentication|is damaged)" "$ERR" || fail "damage not named: $(cat "$ERR")"
[[ -z $(find "$T/replica-of-damaged" -path '*manifests*' -type f) ]] || fail "a manifest was copied"

# Somewhere else's data is never written into.
mkdir "$T/other" && echo mine >"$T/other/file"
expect_exit 2 "$SR" replicate --from "$REPO" --to "$T/other"
grep -q "not part of the source repository" "$ERR" || fail "foreign target not refused: $(cat "$ERR")"
init_repo_other() { STRONGROOM_PASSWORD_FILE=$STRONGROOM_PASSWORD_FILE "$SR" init --repo "$T/another-repo" >/dev/null; }
init_repo_other
expect_exit 2 "$SR" replicate --from "$REPO" --to "$T/another-repo"
grep -q "holds another repository" "$ERR" || fail "another repository not refused: $(cat "$ERR")"
pass
