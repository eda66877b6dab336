#!/usr/bin/env bash
# Self-test of tests/pg/pglib.sh: a PostgreSQL 15 cluster with the banking workload,
# invariant checks, an online pg_basebackup started through pg_start_restored on a
# second port, and an immediate (crash-like) stop followed by crash recovery.
# Usage: bash tests/pg/selftest.sh        (as root; installs postgresql-15 if missing)
# shellcheck disable=SC2016,SC2119  # eval '...' bodies expand later; optional args
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
source "$HERE/pglib.sh"

T0=$(date +%s.%N)
T=$(mktemp -d "${TMPDIR:-/tmp}/sr-pgself.XXXXXX")
trap 'pg_cleanup; rm -rf "$T"' EXIT

PASSED=0
FAILED=0
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
elapsed() { printf '%6ss' "$(since "$T0")"; }
say() { echo "[selftest $(elapsed)] $*"; }
check() { # DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    say "ok   - $what"
  else
    FAILED=$((FAILED + 1))
    say "FAIL - $what"
  fi
}
eq() { [[ $1 == "$2" ]] || { echo "    expected [$2], got [$1]" >&2; return 1; }; }
ge() { (($1 >= $2)) || { echo "    expected $1 >= $2" >&2; return 1; }; }
gt() { (($1 > $2)) || { echo "    expected $1 > $2" >&2; return 1; }; }

pg_install
say "pg user: $(pg_user); PGBIN=$PGBIN"

NACC=1000
DATA=$T/data
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT"
say "cluster up: $DATA on 127.0.0.1:$PGPORT"
check "data dir is owned by the pg user, mode 700" \
  eq "$(stat -c '%U %a' "$DATA")" "$PGLIB_USER 700"
check "data checksums enabled" eq "$(pg_psql postgres 'SHOW data_checksums')" on
check "track_commit_timestamp on" eq "$(pg_psql postgres 'SHOW track_commit_timestamp')" on
check "wal_level replica" eq "$(pg_psql postgres 'SHOW wal_level')" replica
check "archive_command defaults to /bin/true" \
  eq "$(pg_psql postgres 'SHOW archive_command')" /bin/true

bank_init bank "$NACC"
say "bank created with $NACC accounts"
check "initial total" eq "$(bank_total bank)" $((1000 * NACC))

say "workload: 5 s, 2 clients"
WPID=$(bank_workload_start bank 5 2)
sleep 1
check "money invariant holds during the workload" eq "$(bank_total bank)" $((1000 * NACC))
# Online base backup while the workload runs (stands in for strongroom backup+restore).
pg_switch_wal >/dev/null
sleep 1
TB0=$(date +%s.%N)
"$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$T/restored" \
  -X stream -c fast --no-sync
say "pg_basebackup took $(since "$TB0")s"
TMID=$(pg_now)
sleep 1
check "money invariant holds during the workload (2)" eq "$(bank_total bank)" $((1000 * NACC))
check "pgbench finished cleanly" bank_workload_wait "$WPID"
grep -E '^(number of transactions actually processed|tps)' "$(bank_workload_log "$WPID")" |
  sed 's/^/    /'

NTR=$(bank_ntransfers bank)
MAXID=$(bank_max_transfer_id bank)
check "workload made transfers" gt "$NTR" 100
check "money invariant after the workload" eq "$(bank_total bank)" $((1000 * NACC))
check "balances agree with the transfers ledger" bank_ledger_ok bank
check "bank_check" bank_check bank
NOW=$(pg_now)
check "bank_committed_upto(now) = all transfers" eq "$(bank_committed_upto bank "$NOW")" "$NTR $MAXID"
read -r NMID _ <<<"$(bank_committed_upto bank "$TMID")"
check "bank_committed_upto(mid-run) is a proper prefix" gt "$NTR" "$NMID"
check "bank_committed_upto(mid-run) is non-empty" gt "$NMID" 0
check "checksum_upto(infinity) = checksum" eq "$(bank_checksum_upto bank infinity)" "$(bank_checksum bank)"
check "checksum_upto(now) = checksum" eq "$(bank_checksum_upto bank "$NOW")" "$(bank_checksum bank)"
check "bank_committed_upto(epoch) is empty" eq "$(bank_committed_upto bank '2000-01-01 00:00:00+00')" "0 0"

# --- the restored-start path: a root-owned copy started on another port ----------
check "backup copy is root-owned (as a strongroom restore will be)" \
  eq "$(stat -c '%U' "$T/restored/PG_VERSION")" root
PORT2=$(pg_free_port)
[[ $PORT2 != "$PORT" ]] || PORT2=$(pg_free_port)
TR0=$(date +%s.%N)
pg_start_restored "$T/restored" "$PORT2"
say "restored copy up on port $PORT2 in $(since "$TR0")s"
check "restored copy now owned by the pg user, mode 700" \
  eq "$(stat -c '%U %a' "$T/restored" "$T/restored/PG_VERSION" | sort -u | tr '\n' ' ')" "$PGLIB_USER 600 $PGLIB_USER 700 "
check "PGPORT still points at the original" eq "$PGPORT" "$PORT"
check "restored copy answers on its own port" \
  eq "$(PGPORT=$PORT2 pg_psql postgres 'SHOW port')" "$PORT2"
check "original still answers on its port" eq "$(pg_psql postgres 'SHOW port')" "$PORT"
check "restored: money invariant" eq "$(bank_total bank "$PORT2")" $((1000 * NACC))
check "restored: ledger consistent" bank_check bank "$PORT2"
RN=$(bank_ntransfers bank "$PORT2")
RLAST=$(bank_last_commit_ts bank "$PORT2")
say "restored copy has $RN of $NTR transfers, last commit $RLAST"
check "restored copy is a strict prefix in time" gt "$NTR" "$RN"
check "restored: transfers = original's committed <= its last commit ts" \
  eq "$(bank_committed_upto bank "$RLAST" "$PORT2")" "$(bank_committed_upto bank "$RLAST")"
check "restored checksum = original checksum_upto(last commit ts)" \
  eq "$(bank_checksum bank "$PORT2")" "$(bank_checksum_upto bank "$RLAST")"
pg_stop "$T/restored"
check "pg_stop stopped the restored copy" eval '! pg_is_running "$T/restored"'

# --- immediate stop under load, then crash recovery ------------------------------
say "workload again, then pg_stop immediate under load"
WPID=$(BANK_TPS=300 bank_workload_start bank 30 2)
sleep 1.5
SEEN=$(bank_ntransfers bank)
TS0=$(date +%s.%N)
pg_stop "$DATA" immediate
say "immediate stop took $(since "$TS0")s"
check "pgbench fails when its server is killed" eval '! bank_workload_wait "$WPID" 2>/dev/null'
check "server is down" eval '! pg_is_running "$DATA"'
# Restart with a real WAL archive (exercises extra config lines) for the PITR part.
ARCH=$T/archive
mkdir -p "$ARCH"
chown "$(pg_user)" "$ARCH"
TS0=$(date +%s.%N)
pg_start "$DATA" "$PORT" "archive_command='test ! -f $ARCH/%f && cp %p $ARCH/%f'" \
  "archive_timeout=60"
say "restart with crash recovery took $(since "$TS0")s"
check "extra config line overrides archive_command" \
  eq "$(pg_psql postgres 'SHOW archive_command')" "test ! -f $ARCH/%f && cp %p $ARCH/%f"
check "crash recovery ran" grep -q 'database system was interrupted\|was not properly shut down' "$(pg_log "$DATA")"
check "no committed transfer lost" ge "$(bank_ntransfers bank)" "$SEEN"
check "money invariant after crash recovery" eq "$(bank_total bank)" $((1000 * NACC))
check "ledger consistent after crash recovery" bank_check bank

# --- point-in-time recovery with PostgreSQL's own archive: validates the oracle -----
# (a strongroom backup + WAL archive + restore will replace pg_basebackup/cp here)
"$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$T/pitr" -X none -c fast --no-sync
WPID=$(BANK_TPS=400 bank_workload_start bank 3 2)
sleep 1.5
TARGET=$(pg_now)
check "pgbench (PITR run) finished cleanly" bank_workload_wait "$WPID"
SEG=$(pg_psql postgres "SELECT pg_walfile_name(pg_switch_wal())")
for ((i = 0; i < 100; i++)); do
  [[ -f $ARCH/$SEG ]] && break
  sleep 0.1
done
check "WAL segment $SEG archived" test -f "$ARCH/$SEG"
read -r WANT_N WANT_MAX <<<"$(bank_committed_upto bank "$TARGET")"
say "PITR target $TARGET: $WANT_N of $(bank_ntransfers bank) transfers committed by then"
cat >>"$T/pitr/postgresql.auto.conf" <<CONF
restore_command = 'cp $ARCH/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
CONF
touch "$T/pitr/recovery.signal"
PORT3=$(pg_free_port)
TR0=$(date +%s.%N)
pg_start_restored "$T/pitr" "$PORT3" archive_mode=off
pg_wait_recovery_end "$PORT3" 120
say "PITR restore replayed and promoted in $(since "$TR0")s"
check "PITR: restored transfers = those committed <= target" \
  eq "$(bank_committed_upto bank infinity "$PORT3")" "$WANT_N $WANT_MAX"
check "PITR: restored checksum = original checksum_upto(target)" \
  eq "$(bank_checksum bank "$PORT3")" "$(bank_checksum_upto bank "$TARGET")"
check "PITR: invariant and ledger" bank_check bank "$PORT3"
pg_stop "$T/pitr"

# --- the four runbook databases ---------------------------------------------------
bank_create_all 100
PIDS=$(BANK_TPS=50 bank_workload_start_all 2 1)
# shellcheck disable=SC2086  # PIDS is a space-separated list
check "four workloads finished" bank_workload_wait $PIDS
for db in "${BANK_DATABASES[@]}"; do
  check "$db: invariant and ledger" bank_check "$db"
done

pg_stop "$DATA"
check "pg_stop (fast)" eval '! pg_is_running "$DATA"'
pg_cleanup
check "nothing listens on our ports any more" \
  eval '! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT2" &&
        ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT3"'

say "total wall time $(elapsed)"
echo "selftest: $PASSED passed, $FAILED failed"
((FAILED == 0))
