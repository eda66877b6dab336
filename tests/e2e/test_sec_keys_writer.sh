#!/usr/bin/env bash
# Issue 10, item 13: a write-only backup host against a real PostgreSQL 15. With only the writer
# key file (key export-writer): a files backup (twice: the second has a parent it cannot read),
# a PostgreSQL full and incr backup, archive_command wal-push and `pg stream` work; restore,
# wal-get and verify --read-data fail clearly. With the operator's password the same backups
# restore and the cluster starts with the data.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo

sr key export-writer --repo "$REPO" --to "$T/writer.key" --json
json 'assert d["generation"] == 1 and d["writer_key_file"].endswith("writer.key"), d'
[[ $(stat -c %a "$T/writer.key") == 600 ]] || fail "the writer key file is not 0600"
expect_exit nonzero "$SR" key export-writer --repo "$REPO" --to "$T/writer.key"
grep -qi "overwrite" "$ERR" || fail "export-writer over an existing file: $(cat "$ERR")"
grep -q data_key "$T/writer.key" && fail "the writer key file holds a data key"
grep -q restore_private "$T/writer.key" && fail "the writer key file holds the restore private key"
chown "$PGU" "$T/writer.key" "$T"
chown -R "$PGU" "$REPO"

# From here on the backup host has only the writer key.
W=(--repo "$REPO" --key-file "$T/writer.key")
wsr() { (unset STRONGROOM_PASSWORD_FILE; sr "$@"); }
wexpect() { (unset STRONGROOM_PASSWORD_FILE; expect_exit "$@"); }

gen_tree "$T/src"
wsr backup "${W[@]}" --path "$T/src" --json
files1=$(json "print(d['id'])")
wsr backup "${W[@]}" --path "$T/src" --json
files2=$(json "print(d['id'])")
json 'assert d["added_size"] == 0, d'

DATA=$T/pgdata
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT" "archive_command='$SR wal-push --repo $REPO --key-file $T/writer.key %p'"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
setpriv --reuid="$PGU" --regid="$(id -g "$PGU")" --init-groups -- \
  env -u STRONGROOM_PASSWORD_FILE "$SR" stream "${W[@]}" --pg-conn "$CONN" 2>"$T/stream.log" &
spid=$!
"$PGBIN/pgbench" -i -s 2 -q -h 127.0.0.1 -p "$PORT" -U postgres postgres >/dev/null 2>&1
wsr backup "${W[@]}" --pg-data "$DATA" --pg-conn "$CONN" --type full
pg_psql postgres "CREATE TABLE ledger AS SELECT g AS id, g % 97 AS amount FROM generate_series(1, 5000) g" >/dev/null
pg_psql postgres "UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 50 = 0" >/dev/null
pg_psql postgres "CHECKPOINT" >/dev/null
wsr backup "${W[@]}" --pg-data "$DATA" --pg-conn "$CONN" --type incr --json
json 'assert d["pg"]["backup_type"] == "incr", d' 2>/dev/null || json 'assert "incr" in json.dumps(d), d'
want=$(pg_psql postgres "SELECT count(*), sum(abalance) FROM pgbench_accounts")
pg_switch_wal >/dev/null
sleep 3
seg=$(pg_psql postgres "SELECT last_archived_wal FROM pg_stat_archiver")
[[ -n $seg ]] || fail "archive_command with the writer key archived nothing: $(tail -5 "$(pg_log "$DATA")")"
pg_psql postgres "SELECT failed_count FROM pg_stat_archiver" | grep -qx 0 ||
  fail "archive_command failed with the writer key: $(grep -i strongroom "$(pg_log "$DATA")" | tail -3)"
kill -0 "$spid" 2>/dev/null || fail "pg stream with the writer key stopped: $(tail -5 "$T/stream.log")"
grep -q "streaming" "$T/stream.log" || fail "pg stream with the writer key did not stream: $(cat "$T/stream.log")"
grep -qi "connection lost\|error" "$T/stream.log" && fail "pg stream with the writer key: $(cat "$T/stream.log")"

# What the writer key cannot do: anything that reads packs or WAL objects.
wexpect 4 "$SR" restore "${W[@]}" --backup "$files2" --to "$T/w-restore"
grep -q "write-only key" "$ERR" || fail "restore with the writer key: $(cat "$ERR")"
expect_error_line
[[ ! -e $T/w-restore/$(basename "$T/src") && -z $(ls -A "$T/w-restore" 2>/dev/null) ]] ||
  fail "the writer key restored files"
wexpect 4 "$SR" restore "${W[@]}" --to "$T/w-pg"
grep -q "write-only key" "$ERR" || fail "pg restore with the writer key: $(cat "$ERR")"
wexpect 4 "$SR" wal-get "${W[@]}" "$seg" "$T/w-seg"
grep -q "write-only key" "$ERR" || fail "wal-get with the writer key: $(cat "$ERR")"
[[ ! -e $T/w-seg ]] || fail "wal-get with the writer key wrote the segment"
wexpect 4 "$SR" verify "${W[@]}" --read-data
grep -q "write-only key" "$ERR" || fail "verify --read-data with the writer key: $(cat "$ERR")"
wexpect 4 "$SR" key add "${W[@]}" --new-key-file "$T/w-new.key"
[[ ! -e $T/w-new.key ]] || fail "a key file that opens nothing was left"

kill -TERM "$spid"
wait "$spid" || fail "stream with the writer key exited with an error: $(tail -5 "$T/stream.log")"

# The operator's password restores everything the writer stored.
sr restore --repo "$REPO" --backup "$files1" --to "$T/r-files"
compare_trees "$T/src" "$T/r-files"
sr verify --repo "$REPO" --read-data
p2=$(pg_free_port)
sr restore --repo "$REPO" --to "$T/restored"
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
got=$(PGPORT=$p2 pg_psql postgres "SELECT count(*), sum(abalance) FROM pgbench_accounts")
[[ $got == "$want" ]] || fail "restored accounts '$got' != original '$want'"
[[ $(PGPORT=$p2 pg_psql postgres "SELECT count(*) FROM ledger") == 5000 ]] || fail "ledger rows missing"
pass
