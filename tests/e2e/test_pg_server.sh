#!/usr/bin/env bash
# The local PostgreSQL server controller (src/pg/server.h) and `restore --start` on it, run as
# the database's OS user (PostgreSQL refuses root):
# 1. the controller's unit cases (PgServer.*: start on a free loopback port with a private socket
#    directory, query, stop, destructor, a recovery wait that times out and one that is
#    cancelled, a server that cannot start) must all run — none skipped — and pass;
# 2. `restore --start` without --port starts the restored cluster on a free loopback port it
#    reports, waits for the end of recovery, and leaves the server running with the data of the
#    end of the WAL; with --target immediate --target-action pause it reports "paused" and
#    the server is paused in recovery.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
UNIT=$(dirname "$SR")/unit_tests
[[ -x $UNIT ]] || fail "unit_tests not found next to $SR"

# --- 1. The controller's own cases, as the database user.
mkdir "$T/unit" && chown "$PGU" "$T/unit"
expect_exit 0 runuser -u "$PGU" -- env SR_PG_BIN="$PGBIN" TMPDIR="$T/unit" \
  "$UNIT" --gtest_filter='PgServer.*'
grep -q '^\[  PASSED  \] 5 tests' "$OUT" || fail "PgServer: expected 5 passed tests: $(tail -5 "$OUT")"
grep -q 'SKIPPED' "$OUT" && fail "PgServer cases were skipped: $(grep SKIPPED "$OUT")"
note "controller cases passed"

# --- 2. restore --start through the CLI.
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT" \
  "archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
pg_psql postgres "CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g"
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN"
pg_psql postgres "INSERT INTO t SELECT g FROM generate_series(101, 250) g"
pg_switch_wal >/dev/null
sleep 2 # let the segment be archived
chown -R "$PGU" "$REPO" # what the backup wrote, for the restores run as the database user

AS_PG=(runuser -u "$PGU" -- env PGUSER=postgres STRONGROOM_PASSWORD_FILE="$STRONGROOM_PASSWORD_FILE")
restored_stop() { (cd / && runuser -u "$PGU" -- "$PGBIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null); }
trap 'for d in "$T"/r-*; do [[ -f $d/postmaster.pid ]] && restored_stop "$d"; done; pg_cleanup; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

mkdir "$T/r-latest" && chown "$PGU" "$T/r-latest"
expect_exit 0 "${AS_PG[@]}" "$SR" restore --repo "$REPO" --to "$T/r-latest" --force --start --json
json 'assert d["state"] == "promoted", d; assert d["port"] > 0, d; assert d["rto_seconds"] >= d["restore_seconds"], d'
RPORT=$(json 'print(d["port"])')
[[ $RPORT != "$PORT" ]] || fail "the restored server took the original's port"
[[ $(PGPORT=$RPORT pg_psql postgres "SELECT count(*) FROM t") == 250 ]] ||
  fail "restored server lacks the rows of the end of the WAL"
[[ $(PGPORT=$RPORT pg_psql postgres "SHOW listen_addresses") == 127.0.0.1 ]] ||
  fail "restored server listens beyond loopback"
restored_stop "$T/r-latest"
note "restore --start (latest, free port) ok"

mkdir "$T/r-pause" && chown "$PGU" "$T/r-pause"
RPORT=$(pg_free_port)
expect_exit 0 "${AS_PG[@]}" "$SR" restore --repo "$REPO" --to "$T/r-pause" --force --start --port "$RPORT" \
  --target immediate --target-action pause --json
json 'assert d["state"] == "paused", d'
[[ $(PGPORT=$RPORT pg_psql postgres "SELECT pg_get_wal_replay_pause_state()") == paused ]] ||
  fail "restored server is not paused"
[[ $(PGPORT=$RPORT pg_psql postgres "SELECT count(*) FROM t") == 100 ]] ||
  fail "paused at the end of the backup should hold its 100 rows"
restored_stop "$T/r-pause"
note "restore --start (immediate, pause, given port) ok"

# As root: refused before anything is written.
expect_exit 2 "$SR" restore --repo "$REPO" --to "$T/r-root" --start
grep -q 'does not run as root' "$ERR" || fail "root refusal lacks its reason: $(cat "$ERR")"
[[ ! -e $T/r-root ]] || fail "a refused restore wrote its target"
pass
