#!/usr/bin/env bash
# A cluster with a tablespace outside its data directory: full and incr backups; a restore into a
# new directory with --tablespace-in-place refuses to overwrite the tablespace's original
# location (still in use), restores it where --tablespace-map says, and the server recovers to
# the same data; the original tablespace is left untouched. Then `restore --delta
# --tablespace-in-place` brings the original, stopped data directory back to the backup: it is
# refused while the server runs and into a directory that is not a data directory; it removes a
# stray file, repairs a damaged page and rewrites only what differs.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
TS=$T/tablespace
mkdir "$TS" && chown "$PGU" "$TS" && chmod 700 "$TS"
PORT=$(pg_free_port)
ARCHIVE="archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'"
pg_start "$DATA" "$PORT" "$ARCHIVE"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
"$PGBIN/pgbench" -i -s 4 -q -h 127.0.0.1 -p "$PORT" -U postgres postgres >/dev/null 2>&1
pg_psql postgres "CREATE TABLESPACE ts LOCATION '$TS'" >/dev/null
pg_psql postgres "CREATE TABLE in_ts TABLESPACE ts AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g" >/dev/null
oid=$(pg_psql postgres "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")

sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full
pg_psql postgres "UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 97 = 0" >/dev/null
pg_psql postgres "INSERT INTO in_ts SELECT g, 'new' FROM generate_series(50001, 60000) g" >/dev/null
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type incr
query="SELECT (SELECT count(*) || '/' || sum(abalance) FROM pgbench_accounts) || ' ' ||
              (SELECT count(*) || '/' || sum(id) FROM in_ts)"
want=$(pg_psql postgres "$query")
pg_switch_wal >/dev/null
sleep 1
ts_before=$(find "$TS" -type f -printf '%P %s %T@\n' | sort | md5sum)

# 1. A restore into a new directory. The tablespace's original location is in use: refused
# before anything is written, with the way out named; mapped elsewhere, it restores there.
p2=$(pg_free_port)
expect_exit 1 "$SR" restore --repo "$REPO" --to "$T/restored" --tablespace-in-place
grep -q "tablespace $oid would be restored to $TS, which is not empty.*--tablespace-map $oid=DIR" "$ERR" ||
  fail "occupied tablespace location not refused clearly: $(cat "$ERR")"
[[ ! -e $T/restored ]] || fail "a refused restore created its target"
expect_exit 2 "$SR" restore --repo "$REPO" --to "$T/restored" --tablespace-map 999=/x
grep -q "no tablespace 999 (it has $oid)" "$ERR" || fail "unknown tablespace not named: $(cat "$ERR")"
sr restore --repo "$REPO" --to "$T/restored" --tablespace-map "$oid=$T/ts-restored"
[[ $(readlink "$T/restored/pg_tblspc/$oid") == "$T/ts-restored" ]] ||
  fail "pg_tblspc/$oid is not a symlink to the mapped directory"
ls "$T/ts-restored" | grep -q '^PG_15_' || fail "tablespace contents not in the mapped directory"
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
got=$(PGPORT=$p2 pg_psql postgres "$query")
[[ $got == "$want" ]] || fail "restored data '$got' != original '$want'"
pg_stop "$T/restored"
chown -R "$PGU" "$TS"
ts_after=$(find "$TS" -type f -printf '%P %s %T@\n' | sort | md5sum)
[[ $ts_before == "$ts_after" ]] || fail "the original tablespace was modified by a restore"

# 2. Delta restores: refused under a running server and into a directory that is not one.
expect_exit 2 "$SR" restore --repo "$REPO" --to "$DATA" --delta
grep -q "is running in $DATA" "$ERR" || fail "running server not named: $(cat "$ERR")"
mkdir -p "$T/not-pg" && echo keep >"$T/not-pg/file"
expect_exit 2 "$SR" restore --repo "$REPO" --to "$T/not-pg" --delta
grep -q "not a PostgreSQL data directory" "$ERR" || fail "non-data directory accepted: $(cat "$ERR")"
[[ -f $T/not-pg/file ]] || fail "a refused delta restore removed a file"

# The original, stopped and then damaged: a stray file, a page of pgbench_branches overwritten,
# a relation file of pgbench_tellers removed.
branches=$(pg_psql postgres "SELECT pg_relation_filepath('pgbench_branches')")
tellers=$(pg_psql postgres "SELECT pg_relation_filepath('pgbench_tellers')")
pg_stop "$DATA"
echo stray >"$DATA/base/stray-file"
ts_db=$(ls -d "$TS"/PG_15_*/*/ | head -1)
echo stray >"${ts_db}stray-in-tablespace"
printf '\xde\xad\xbe\xef' | dd of="$DATA/$branches" bs=1 seek=200 conv=notrunc status=none
rm "$DATA/$tellers"
sr restore --repo "$REPO" --to "$DATA" --delta --tablespace-in-place --json
unchanged=$(json "print(d['bytes_unchanged'])")
total=$(json "print(d['bytes'])")
removed=$(json "print(d['removed'])")
note "delta restore: $unchanged of $total bytes already in place, $removed entries removed"
((unchanged * 100 >= total * 50)) || fail "delta rewrote too much: $unchanged of $total bytes unchanged"
((removed >= 1)) || fail "delta removed nothing"
[[ ! -e $DATA/base/stray-file ]] || fail "stray file survived the delta restore"
[[ ! -e ${ts_db}stray-in-tablespace ]] || fail "stray file in the tablespace survived"
[[ $(readlink "$DATA/pg_tblspc/$oid") == "$TS" ]] || fail "tablespace link not restored"
[[ -f $DATA/$tellers ]] || fail "removed relation file not restored"
pg_start_restored "$DATA" "$PORT" archive_mode=off
pg_wait_recovery_end "$PORT" 120 || fail "recovery after the delta restore did not end"
got=$(pg_psql postgres "$query")
[[ $got == "$want" ]] || fail "delta-restored data '$got' != original '$want'"
pg_psql postgres "SELECT count(*) FROM pgbench_branches" >/dev/null || fail "pgbench_branches unreadable"
pass
