#!/usr/bin/env bash
# PostgreSQL end to end: a banking workload runs while WAL is archived with `strongroom wal-push`
# and full, incr and diff backups are taken; then the cluster is restored to five targets (a time
# between two commits, an LSN, an xid, a named restore point, the end of the WAL). After each the
# money invariant holds and the restored transfers are exactly those committed up to the target.
# Refusals: a target before the first backup, a missing WAL segment, a wrong password, and a
# repository stanza of another cluster.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"                    # wal-push runs as the server's user
DATA=$T/pgdata
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT" \
  "archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'" \
  "archive_timeout=60"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
bank_init bank 200 >/dev/null

ts() { pg_psql postgres "SELECT clock_timestamp()"; }
# The restored transfers must be exactly those committed up to some instant: the newest commit
# timestamp among them. Prints that instant.
restored_cutoff() { PGPORT=$1 pg_psql bank "SELECT max(pg_xact_commit_timestamp(xmin)) FROM transfers"; }
check_exact() { # PORT CUTOFF_TS LABEL
  local got want
  got=$(PGPORT=$1 pg_psql bank "SELECT count(*) || ' ' || coalesce(max(id),0) FROM transfers")
  want=$(bank_committed_upto bank "$2")
  [[ $got == "$want" ]] || fail "$3: restored transfers '$got' != committed up to $2 '$want'"
  [[ $(PGPORT=$1 bank_total bank) == 200000 ]] || fail "$3: money invariant broken"
}

BANK_TPS=150 pid=$(bank_workload_start bank 14 2)
sleep 1
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full
sleep 1
T_TIME=$(ts)
sleep 1
T_LSN_BEFORE=$(ts); T_LSN=$(pg_psql postgres "SELECT pg_current_wal_insert_lsn()"); T_LSN_AFTER=$(ts)
sleep 1
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type incr
T_XID=$(pg_psql bank "SELECT xmin FROM transfers ORDER BY id DESC LIMIT 1")
T_XID_TS=$(pg_psql bank "SELECT pg_xact_commit_timestamp('$T_XID'::xid)")
sleep 1
T_RP_BEFORE=$(ts); sr mark --repo "$REPO" before-batch --pg-conn "$CONN"; T_RP_AFTER=$(ts)
sleep 1
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type diff
bank_workload_wait "$pid" >/dev/null
pg_switch_wal >/dev/null
END_TS=$(ts)
sleep 2   # let the last segment be archived
backups_json
n_pg=$(json "print(sum(1 for b in d if b['type'] == 'postgres'))" "$T/backups.json")
[[ $n_pg == 3 ]] || fail "expected 3 PostgreSQL backups, got $n_pg"

restore_and_check() { # LABEL CHECK… -- RESTORE_ARGS…
  local label=$1; shift
  local dir=$T/r-$label port
  port=$(pg_free_port)
  sr restore --repo "$REPO" --to "$dir" "$@"
  pg_start_restored "$dir" "$port" archive_mode=off
  pg_wait_recovery_end "$port" 120 || fail "$label: recovery did not end"
  echo "$port"
}

# 1. A time strictly between two commits.
p=$(restore_and_check time --target-time "$T_TIME")
check_exact "$p" "$T_TIME" time
note "time target ok"
# 2. An LSN: the restored state is a commit-time prefix whose end lies around the LSN's instant.
p=$(restore_and_check lsn --target-lsn "$T_LSN")
c=$(restored_cutoff "$p"); check_exact "$p" "$c" lsn
python3 - "$c" "$T_LSN_BEFORE" "$T_LSN_AFTER" <<'PY' || fail "lsn cutoff $c outside [$T_LSN_BEFORE, $T_LSN_AFTER]"
import sys, datetime as d
p = lambda s: d.datetime.fromisoformat(s.replace(' ', 'T'))
c, lo, hi = map(p, sys.argv[1:])
sys.exit(0 if lo - d.timedelta(seconds=1) <= c <= hi else 1)
PY
note "lsn target ok"
# 3. An xid: everything committed up to that transaction's commit.
p=$(restore_and_check xid --target-xid "$T_XID")
check_exact "$p" "$T_XID_TS" xid
note "xid target ok"
# 4. A named restore point.
p=$(restore_and_check name --target-name before-batch)
c=$(restored_cutoff "$p"); check_exact "$p" "$c" name
python3 - "$c" "$T_RP_BEFORE" "$T_RP_AFTER" <<'PY' || fail "restore point cutoff $c outside [$T_RP_BEFORE, $T_RP_AFTER]"
import sys, datetime as d
p = lambda s: d.datetime.fromisoformat(s.replace(' ', 'T'))
c, lo, hi = map(p, sys.argv[1:])
sys.exit(0 if c <= hi else 1)
PY
note "restore point target ok"
# 5. Latest: every transfer.
p=$(restore_and_check latest --backup latest)
check_exact "$p" "$END_TS" latest
[[ $(PGPORT=$p bank_checksum bank) == $(bank_checksum bank) ]] || fail "latest: checksum differs from the original"
[[ -f $T/r-latest/pg_wal/strongroom-prefetch/prefetch.lock ]] || fail "restore_command did not prefetch"
note "latest ok"

# Refusals, each before anything is written.
expect_exit 6 "$SR" restore --repo "$REPO" --to "$T/r-early" --target-time 2000-01-01T00:00:00Z
grep -q "before the earliest backup" "$ERR" || fail "no clear message for an early target"
[[ ! -e $T/r-early ]] || fail "an early-target restore wrote files"
STRONGROOM_PASSWORD=wrong STRONGROOM_PASSWORD_FILE= expect_exit 4 "$SR" restore --repo "$REPO" --to "$T/r-pw" --target-time "$END_TS"
# A missing segment in a copy of the repository.
cp -a "$REPO" "$T/repo2"
seg=$(find "$T/repo2/wal" -name '0000000100000000000000??' | sort | tail -n 2 | head -n 1)
rm "$seg"
full=$(json "print([b['id'] for b in d if b['type'] == 'postgres'][0])" "$T/backups.json")
expect_exit 6 "$SR" restore --repo "$T/repo2" --to "$T/r-gap" --backup "$full"
grep -q "$(basename "$seg") is missing" "$ERR" || fail "the missing segment is not named: $(cat "$ERR")"
[[ ! -e $T/r-gap ]] || fail "a restore with a WAL gap wrote files"
# Another cluster into the same stanza.
DATA2=$T/pgdata2
PORT2=$(pg_free_port)
pg_start "$DATA2" "$PORT2"
expect_exit 2 "$SR" backup --repo "$REPO" --pg-data "$DATA2" --pg-conn "host=127.0.0.1 port=$PORT2 user=postgres dbname=postgres"
grep -q "belongs to the cluster with system identifier" "$ERR" || fail "another cluster not refused clearly"
pass
