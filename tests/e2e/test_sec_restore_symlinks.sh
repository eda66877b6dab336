#!/usr/bin/env bash
# Issue 10, defects 2 and 8: the writes a PostgreSQL restore does after the files never follow a
# symlink out of the target, and a restore_command that cannot work is never written. A cluster
# whose postgresql.auto.conf is a symlink to a file outside its data directory (as a compromised
# host could make it) is backed up; restoring it is refused with a clear error and the file
# outside is untouched. A restore with the password in STRONGROOM_PASSWORD (no password or key
# file for restore_command) is refused before anything is written.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
ARCHIVE="archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'"
pg_start "$DATA" "$PORT" "$ARCHIVE"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
mkdir "$T/outside"
VICTIM=$T/outside/authorized_keys
{ cat "$DATA/postgresql.auto.conf"; echo "# ssh-ed25519 AAAA operator"; } >"$VICTIM"
chmod 644 "$VICTIM"
rm "$DATA/postgresql.auto.conf"
ln -s "$VICTIM" "$DATA/postgresql.auto.conf"
before=$(md5sum <"$VICTIM")
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full
pg_switch_wal >/dev/null
sleep 1

# No file for restore_command to read the password from: refused before anything is written.
expect_exit 2 env -u STRONGROOM_PASSWORD_FILE STRONGROOM_PASSWORD="$(cat "$STRONGROOM_PASSWORD_FILE")" \
  "$SR" restore --repo "$REPO" --to "$T/nopw"
grep -q "restore_command that must read the password from a file" "$ERR" ||
  fail "restore without a password file not refused clearly: $(cat "$ERR")"
[[ ! -e $T/nopw ]] || fail "a refused restore created its target"

# The symlinked postgresql.auto.conf: refused, the file outside untouched.
expect_exit nonzero "$SR" restore --repo "$REPO" --to "$T/restored"
grep -q "postgresql.auto.conf in the target is not a regular file (a symlink)" "$ERR" ||
  fail "symlinked postgresql.auto.conf not refused clearly: $(cat "$ERR")"
[[ $(md5sum <"$VICTIM") == "$before" ]] || fail "the restore wrote through the symlink: $(cat "$VICTIM")"
[[ $(ls "$T/outside") == authorized_keys ]] || fail "the restore created files outside: $(ls "$T/outside")"
[[ ! -e $T/restored/recovery.signal ]] || fail "recovery configured despite the refusal"
pass
