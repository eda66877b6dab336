#!/usr/bin/env bash
# Issue 10, defect 1: a PostgreSQL restore never writes outside its target unless the operator
# says where. A cluster with a tablespace outside its data directory; the backup records that
# location. Restored without tablespace options (the recorded location free, as on a fresh host),
# the tablespace goes to <target>/pg_tblspc_data/OID, pg_tblspc/OID links there, the location is
# reported (in the log before anything is written, and in the output), nothing is written at the
# recorded location, and the server recovers the same data. Only --tablespace-in-place restores
# to the recorded location (refused while it is occupied); it excludes --tablespace-dir.
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
pg_psql postgres "CREATE TABLESPACE ts LOCATION '$TS'" >/dev/null
pg_psql postgres "CREATE TABLE in_ts TABLESPACE ts AS SELECT g AS id FROM generate_series(1, 20000) g" >/dev/null
oid=$(pg_psql postgres "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full
query="SELECT count(*) || '/' || sum(id) FROM in_ts"
want=$(pg_psql postgres "$query")
pg_switch_wal >/dev/null
sleep 1
pg_stop "$DATA"
# The recorded location is free now: a restore that trusted the backup would write there.
mv "$TS" "$T/tablespace.orig"

INSIDE=$T/restored/pg_tblspc_data/$oid
STRONGROOM_LOG_LEVEL=info sr restore --repo "$REPO" --to "$T/restored"
[[ ! -e $TS ]] || fail "the restore wrote to the location the backup recorded ($TS)"
grep -q "tablespace $oid (recorded at $TS) restored to $INSIDE" "$OUT" ||
  fail "tablespace location not in the output: $(cat "$OUT")"
grep -q "tablespace $oid (recorded at $TS) goes to $INSIDE" "$ERR" ||
  fail "tablespace location not logged: $(cat "$ERR")"
[[ $(readlink "$T/restored/pg_tblspc/$oid") == "$INSIDE" ]] ||
  fail "pg_tblspc/$oid does not link to $INSIDE: $(readlink "$T/restored/pg_tblspc/$oid")"
ls "$INSIDE" | grep -q '^PG_15_' || fail "tablespace contents not in $INSIDE"
p2=$(pg_free_port)
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
got=$(PGPORT=$p2 pg_psql postgres "$query")
[[ $got == "$want" ]] || fail "restored data '$got' != original '$want'"
pg_stop "$T/restored"

# In place only when asked: refused while the location is occupied, written once it is free.
mv "$T/tablespace.orig" "$TS"
expect_exit 1 "$SR" restore --repo "$REPO" --to "$T/r2" --tablespace-in-place
grep -q "tablespace $oid would be restored to $TS, which is not empty" "$ERR" ||
  fail "occupied location not refused: $(cat "$ERR")"
[[ ! -e $T/r2 ]] || fail "a refused restore created its target"
expect_exit 2 "$SR" restore --repo "$REPO" --to "$T/r2" --tablespace-in-place --tablespace-dir "$T/x"
rm -rf "$TS"
sr restore --repo "$REPO" --to "$T/r2" --tablespace-in-place --json
[[ $(readlink "$T/r2/pg_tblspc/$oid") == "$TS" ]] || fail "in place: pg_tblspc/$oid does not link to $TS"
ls "$TS" | grep -q '^PG_15_' || fail "in place: tablespace contents not in $TS"
json "assert d['tablespaces'] == [{'oid': '$oid', 'recorded': '$TS', 'restored_to': '$TS'}], d"
pass
