#!/usr/bin/env bash
# strongroom vs pgBackRest 2.45 on one PostgreSQL 15 cluster, in the same run.
#
# One cluster (tests/pg/pglib.sh, run as the unprivileged user srpg) initialised with
# `pgbench -i -s SCALE`.  Its archive_command pushes every segment to both tools
# (`strongroom wal-push … %p && pgbackrest … archive-push %p`), so each tool's backup can wait
# for its own WAL.  Both tools run as srpg (the server's OS user), like in production.
# pgBackRest: repo1-path in the work dir, process-max=2, compress-type=zst, compress-level=1,
# start-fast=y.  strongroom: repository defaults (zstd 3 for files; PostgreSQL pages and WAL use
# zstd 1), opened with a key file (as machines do; a password costs a scrypt run per call).
#
# Phases, each timed with /usr/bin/time (wall seconds, peak RSS) after dropping caches:
#   1. full backup (pgBackRest --type=full, strongroom --type full); repository size
#   2. restore of the full backup into an empty dir (+ the time of a `sync` right after it),
#      twice per tool in the order pgBackRest, strongroom, strongroom, pgBackRest (means);
#      each restored cluster is started (pg_start_restored), recovers from its tool's archive
#      and must give the same count/sum of pgbench_accounts as the original
#   3. a ~2% change (at scale 100: INSERT 200000 rows into a new table `ledger`, UPDATE 1000
#      random pgbench_accounts rows; both scaled with SCALE), CHECKPOINT, then pgBackRest
#      --type=diff and strongroom --type incr (--sr-type): seconds and bytes added. A ledger row
#      is a transfer as the runbook's transfers table holds it (id, account, amount, time);
#      --ledger-note adds an md5 text column (32 random hex digits a row: 3.2 MB of entropy, 11 %
#      of the full backup on its own, which no tool can store in the 5 % the target allows)
#   4. `pgbench -c 4 -j 2 -T SECONDS` while `strongroom stream` follows it (its lag as the server
#      sees it, sampled every 0.5 s), then another diff / incr: seconds and bytes added
#   5. restore of the latest backup of each tool, started and checked like in 2
#   6. WAL archiving: archiving is paused (archive_command = ''), WAL is generated until
#      --wal-segments segments are .ready, then the same segment files are pushed one call
#      per segment, as archive_command would: `pgbackrest archive-push` (sync), the same with
#      archive-async=y (spool-path, process-max=2), and `strongroom wal-push` (key file) and
#      `wal-push --async-spool` — each into a fresh repository of its own.
# "Bytes added" / repository sizes exclude archived WAL (strongroom: repo minus wal/,
# pgBackRest: backup/); totals with WAL are listed too.
# Writes a markdown report (machine facts, results table, PASS/FAIL per target) to --out FILE
# and stdout.  Exit status: 0 when every tool command succeeded and every restored cluster
# started, recovered and matched the original (even if a performance target fails), 1 otherwise.
#
# Usage: bench/bench_pgbackrest.sh [--scale N] [--pgbench-seconds N] [--wal-segments N]
#                                  [--sr-type incr|diff] [--ledger-note] [--wal-kind md5|oltp]
#                                  [--workdir DIR] [--out FILE] [--keep]
#   --scale N            pgbench scale (default 100, ~1.5 GiB; 10 for a quick smoke)
#   --pgbench-seconds N  length of the pgbench run before the second diff/incr (default 60)
#   --wal-segments N     segments for the WAL archiving phase (default 100)
#   --sr-type T          strongroom type for the two backups after the full (default incr)
#   --ledger-note        give the ledger rows an md5 text column (see phase 3)
#   --wal-kind K         WAL for phase 6: md5 (default: inserts of random md5 text, the hardest
#                        to compress) or oltp (updates of pgbench_accounts rows)
#   --workdir DIR        parent of the fresh work dir (default /var/tmp)
#   --out FILE           markdown report (default bench/results-pgbackrest.md)
#   --keep               keep the work dir (logs are in WORK/logs)
# Env: STRONGROOM_BIN (default build/strongroom).  Run as root (apt-get, drop_caches, runuser).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../tests/pg/pglib.sh
source "$PROJECT_DIR/tests/pg/pglib.sh"
trap pg_cleanup EXIT # sourcing made a run dir; replaced by cleanup() once the work dir exists

SCALE=100
PGBENCH_SECONDS=60
WAL_SEGMENTS=100
SR_TYPE=incr
LEDGER_NOTE=0
WAL_KIND=md5
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-pgbackrest.md
KEEP=0

while (($#)); do
    case $1 in
        --scale) SCALE=$2; shift 2 ;;
        --pgbench-seconds) PGBENCH_SECONDS=$2; shift 2 ;;
        --wal-segments) WAL_SEGMENTS=$2; shift 2 ;;
        --sr-type) SR_TYPE=$2; shift 2 ;;
        --ledger-note) LEDGER_NOTE=1; shift ;;
        --wal-kind) WAL_KIND=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in SCALE PGBENCH_SECONDS WAL_SEGMENTS; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { v=${v,,}; die "--${v//_/-} needs a positive integer"; }
done
[[ $SR_TYPE == incr || $SR_TYPE == diff ]] || die "--sr-type must be incr or diff"
[[ $WAL_KIND == md5 || $WAL_KIND == oltp ]] || die "--wal-kind must be md5 or oltp"
[[ $(id -u) -eq 0 ]] || die "run as root (apt-get, drop_caches, runuser to the server's user)"

# ---- dependencies ------------------------------------------------------------------------
missing=()
command -v pgbackrest >/dev/null || missing+=(pgbackrest)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -q >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
        die "apt-get install ${missing[*]} failed"
fi
pg_install
[[ -x $STRONGROOM_BIN ]] || die "strongroom binary not found at $STRONGROOM_BIN (build it first, or set STRONGROOM_BIN)"
PGU=$(pg_user)

# ---- work dir ----------------------------------------------------------------------------
mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-pgbench.XXXXXX")
chmod 755 "$WORK" # the server's user must reach its repositories and configs in here
cleanup() {
    pg_cleanup
    if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK" # a cwd the server's user can enter
LOGS=$WORK/logs
mkdir -p "$LOGS"
DATA=$WORK/pgdata
PWFILE=$WORK/password
echo "bench-password-$RANDOM$RANDOM" >"$PWFILE"
chmod 600 "$PWFILE"
mkdir -p "$WORK/sr-cache"
chown "$PGU" "$PWFILE" "$WORK/sr-cache"
unset STRONGROOM_REPOSITORY STRONGROOM_PASSWORD STRONGROOM_PASSWORD_FILE
# Run a private copy of the binary: a rebuild of build/strongroom during the run must not mix
# two versions, nor make archive_command fail while the linker rewrites the file.
SR_ORIG_BIN=$STRONGROOM_BIN
SR_BIN_FACTS="$(sha256sum "$SR_ORIG_BIN" | cut -c1-12), built $(date -u -r "$SR_ORIG_BIN" +%Y-%m-%dT%H:%M:%SZ)"
mkdir "$WORK/bin"
cp "$SR_ORIG_BIN" "$WORK/bin/strongroom"
STRONGROOM_BIN=$WORK/bin/strongroom

AS=(runuser -u "$PGU" -- env "STRONGROOM_CACHE_DIR=$WORK/sr-cache")
SR=("$STRONGROOM_BIN")
REPO_SR=$WORK/repo-strongroom
REPO_PGBR=$WORK/repo-pgbackrest

# pgbr_conf NAME REPO_PATH [EXTRA_LINE...]: a pgBackRest config (own log/lock dirs) -> path
pgbr_conf() {
    local name=$1 repo=$2 conf=$WORK/pgbackrest-$1.conf line
    shift 2
    mkdir -p "$WORK/pgbr-$name/log" "$WORK/pgbr-$name/lock" "$WORK/pgbr-$name/spool" "$repo"
    chown -R "$PGU" "$WORK/pgbr-$name" "$repo"
    {
        echo "[global]"
        echo "repo1-path=$repo"
        echo "repo1-retention-full=99"
        echo "process-max=2"
        echo "compress-type=zst"
        echo "compress-level=1"
        echo "start-fast=y"
        echo "log-path=$WORK/pgbr-$name/log"
        echo "lock-path=$WORK/pgbr-$name/lock"
        echo "spool-path=$WORK/pgbr-$name/spool"
        echo "log-level-console=info"
        echo "log-level-file=info"
        for line in "$@"; do echo "$line"; done
        echo
        echo "[bench]"
        echo "pg1-path=$DATA"
        echo "pg1-port=$PORT"
        echo "pg1-socket-path=$SOCK"
        echo "pg1-user=postgres"
    } >"$conf"
    chmod 644 "$conf"
    echo "$conf"
}

# as_pg_ok LOGNAME CMD...: run an untimed setup command as the server's user; die on failure
as_pg_ok() {
    local name=$1
    shift
    if ! "${AS[@]}" "$@" >"$LOGS/$name.log" 2>&1; then
        tail -n 20 "$LOGS/$name.log" >&2
        die "$name failed: $*"
    fi
}

q() { pg_psql bench "$1"; }
# Size helpers: backup data without archived WAL, and the whole repository.
sr_data_bytes() { echo $(($(dir_bytes "$REPO_SR") - $(dir_bytes "$REPO_SR/wal" 2>/dev/null || echo 0))); }
pgbr_data_bytes() { dir_bytes "$REPO_PGBR/backup"; }
sync_secs() { local t0; t0=$(date +%s.%N); sync; calc "$(date +%s.%N) - $t0"; }

declare -A R # results: R[tool.metric], tools: pgbr, sr
RESTORE_BAD=0
RESTORE_NOTES=()

# ---- cluster -----------------------------------------------------------------------------
PORT=$(pg_free_port)
log "starting PostgreSQL 15 on port $PORT (data $DATA)"
pg_start "$DATA" "$PORT" "archive_command='/bin/true'"
SOCK=$(pg_psql postgres "SHOW unix_socket_directories")
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
pg_psql postgres "CREATE DATABASE bench"
log "pgbench -i -s $SCALE (WAL of the load is not archived)"
"$PGBIN/pgbench" -i -s "$SCALE" -q -h 127.0.0.1 -p "$PORT" -U postgres bench >"$LOGS/pgbench-init.log" 2>&1 ||
    { tail -n 20 "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }
pg_checkpoint >/dev/null
DB_BYTES=$(pg_psql postgres "SELECT sum(pg_database_size(oid)) FROM pg_database")
DATA_BYTES=$(du -sb --exclude=pg_wal "$DATA" | cut -f1)

# ---- tools: configs, stanza, repository, archive_command ---------------------------------
CONF=$(pgbr_conf main "$REPO_PGBR")
PGBR=(pgbackrest "--config=$CONF" --stanza=bench)
as_pg_ok stanza-create "${PGBR[@]}" stanza-create
mkdir "$REPO_SR" && chown "$PGU" "$REPO_SR"
as_pg_ok sr-init "${SR[@]}" init --repo "$REPO_SR" --password-file "$PWFILE"
# Machines open the repository with a key file (no scrypt per call), as the user guide advises
# for cron jobs, daemons and archive_command: every strongroom command below uses one.
mkdir "$WORK/sr-keys" && chown "$PGU" "$WORK/sr-keys"
as_pg_ok sr-key env "STRONGROOM_PASSWORD_FILE=$PWFILE" "${SR[@]}" key add --repo "$REPO_SR" --new-key-file "$WORK/sr-keys/main.key"
SRKEY=$WORK/sr-keys/main.key
ARCHIVE_CMD="$STRONGROOM_BIN wal-push --repo $REPO_SR --key-file $SRKEY %p && pgbackrest --config=$CONF --stanza=bench archive-push %p"
pg_psql postgres "ALTER SYSTEM SET archive_command = '$ARCHIVE_CMD'"
pg_psql postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1
as_pg_ok pgbr-check "${PGBR[@]}" check # switches a segment and waits for it in the archive

# check_restored TOOL DIR LABEL: start the restored cluster, wait for recovery to end, compare
# the fingerprint with the original's (no writes happen between the backup and this check).
fingerprint() {
    local port=$1 ledger="-"
    if [[ $(PGPORT=$port pg_psql bench "SELECT to_regclass('ledger') IS NOT NULL") == t ]]; then
        ledger=$(PGPORT=$port pg_psql bench "SELECT count(*) || '/' || sum(delta) FROM ledger")
    fi
    echo "$(PGPORT=$port pg_psql bench "SELECT (SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts)
        || ' h=' || (SELECT count(*) FROM pgbench_history)") l=$ledger"
}
check_restored() {
    local tool=$1 dir=$2 label=$3 port want got
    want=$(fingerprint "$PORT")
    port=$(pg_free_port)
    if ! pg_start_restored "$dir" "$port" archive_mode=off >"$LOGS/start-$label.log" 2>&1; then
        cat "$LOGS/start-$label.log" >&2
        RESTORE_BAD=1
        RESTORE_NOTES+=("$label: restored cluster did not start (see $dir/server.log)")
        R[$tool.$label]="FAILED (no start)"
        return 0
    fi
    if ! pg_wait_recovery_end "$port" 600; then
        RESTORE_BAD=1
        RESTORE_NOTES+=("$label: restored cluster still in recovery after 600 s")
        R[$tool.$label]="FAILED (recovery)"
        pg_stop "$dir" immediate || true
        return 0
    fi
    got=$(fingerprint "$port") || got="(query failed)"
    pg_stop "$dir" fast || true
    if [[ $got == "$want" ]]; then
        R[$tool.$label]="ok"
        log "$label: restored cluster matches the original ($got)"
    else
        RESTORE_BAD=1
        R[$tool.$label]="WRONG"
        RESTORE_NOTES+=("$label: restored '$got' != original '$want'")
        log "$label: restored '$got' != original '$want'"
    fi
}
new_restore_dir() { rm -rf "$1"; mkdir "$1"; chown "$PGU" "$1"; chmod 700 "$1"; }

# ---- phase 1: full backups ---------------------------------------------------------------
run_timed full-pgbr "${AS[@]}" "${PGBR[@]}" --type=full backup
R[pgbr.full_s]=$SECS R[pgbr.full_rss]=$RSS_MIB
run_timed full-sr "${AS[@]}" "${SR[@]}" backup --repo "$REPO_SR" --key-file "$SRKEY" \
    --pg-data "$DATA" --pg-conn "$CONN" --type full
R[sr.full_s]=$SECS R[sr.full_rss]=$RSS_MIB
R[pgbr.full_data]=$(pgbr_data_bytes) R[sr.full_data]=$(sr_data_bytes)
R[pgbr.full_total]=$(dir_bytes "$REPO_PGBR") R[sr.full_total]=$(dir_bytes "$REPO_SR")

# ---- phase 2: restore of the full backup -------------------------------------------------
# Twice per tool, in the order pgBackRest, strongroom, strongroom, pgBackRest (a restore runs
# slower right after another has written 1.5 GB on this kind of virtual disk, whichever tool it
# is); the figures are the means, the single runs are listed.
restore_full() { # TOOL RUN
    local tool=$1 dir=$WORK/restore-$1
    new_restore_dir "$dir"
    sync
    if [[ $tool == pgbr ]]; then
        run_timed "restore-pgbr-$2" "${AS[@]}" "${PGBR[@]}" "--pg1-path=$dir" restore
    else
        run_timed "restore-sr-$2" "${AS[@]}" "${SR[@]}" restore --repo "$REPO_SR" --key-file "$SRKEY" \
            --to "$dir"
    fi
    R[$tool.rs_s$2]=$SECS R[$tool.rs_rss$2]=$RSS_MIB R[$tool.rs_sync$2]=$(sync_secs)
}
restore_full pgbr 1
restore_full sr 1
restore_full sr 2
restore_full pgbr 2
for t in pgbr sr; do
    R[$t.rs_s]=$(calc "(${R[$t.rs_s1]} + ${R[$t.rs_s2]}) / 2")
    R[$t.rs_sync]=$(calc "(${R[$t.rs_sync1]} + ${R[$t.rs_sync2]}) / 2")
    R[$t.rs_runs]="${R[$t.rs_s1]} / ${R[$t.rs_s2]}"
    R[$t.rs_rss]=$(printf '%s\n' "${R[$t.rs_rss1]}" "${R[$t.rs_rss2]}" | sort -g | tail -n 1)
done
check_restored pgbr "$WORK/restore-pgbr" restore-full-pgbr
check_restored sr "$WORK/restore-sr" restore-full-sr
R[pgbr.rs_check]=${R[pgbr.restore-full-pgbr]} R[sr.rs_check]=${R[sr.restore-full-sr]}
rm -rf "$WORK/restore-pgbr" "$WORK/restore-sr"

# ---- phase 3: a ~2% change, diff / incr --------------------------------------------------
NACC=$((SCALE * 100000))
LEDGER_ROWS=$((SCALE * 2000)) # 200000 at scale 100
UPD_ROWS=$((SCALE * 10))      # 1000 at scale 100
log "change: INSERT $LEDGER_ROWS ledger rows, UPDATE $UPD_ROWS random pgbench_accounts rows"
if ((LEDGER_NOTE)); then
    NOTE_COL=", note text NOT NULL" NOTE_VAL=", md5(g::text)"
else
    NOTE_COL="" NOTE_VAL=""
fi
q "CREATE TABLE ledger(id bigint PRIMARY KEY, aid int NOT NULL, delta int NOT NULL,
                       at timestamptz NOT NULL$NOTE_COL);
   INSERT INTO ledger SELECT g, 1 + (random() * ($NACC - 1))::int, (random() * 2000)::int - 1000,
                             clock_timestamp()$NOTE_VAL FROM generate_series(1, $LEDGER_ROWS) g;"
ACC_PAGES_BEFORE=$(q "SELECT pg_relation_size('pgbench_accounts') / 8192")
UPDATED=$(q "WITH u AS (UPDATE pgbench_accounts SET abalance = abalance + 1
             WHERE aid IN (SELECT 1 + (random() * ($NACC - 1))::int FROM generate_series(1, $UPD_ROWS))
             RETURNING ctid) SELECT count(*) FROM u")
ACC_PAGES_AFTER=$(q "SELECT pg_relation_size('pgbench_accounts') / 8192")
LEDGER_BYTES=$(q "SELECT pg_total_relation_size('ledger')")
pg_checkpoint >/dev/null
# Pages written: the new table + its index, the pages of the old row versions (<= one per
# updated row), the pages the new versions went to, and a pkey leaf page per updated row.
CHANGE_BYTES=$((LEDGER_BYTES + (UPDATED * 2 + ACC_PAGES_AFTER - ACC_PAGES_BEFORE) * 8192))
CHANGE_PCT=$(calc "100 * $CHANGE_BYTES / $DB_BYTES")
# What any tool must store for the new table alone: its files compressed with zstd -1.
LEDGER_ZSTD=0
for rel in ledger ledger_pkey; do
    f=$DATA/$(q "SELECT pg_relation_filepath('$rel')")
    LEDGER_ZSTD=$((LEDGER_ZSTD + $(zstd -1 -q -c "$f" | wc -c)))
done
LEDGER_DESC="(id, aid, delta, at)"
((LEDGER_NOTE)) && LEDGER_DESC="(id, aid, delta, at, note = md5 text)"
CHANGE_DESC="INSERT $LEDGER_ROWS rows $LEDGER_DESC into a new table ledger ($(mib "$LEDGER_BYTES") MiB with its index, $(mib "$LEDGER_ZSTD") MiB with zstd -1 = $(calc "100 * $LEDGER_ZSTD / $(sr_data_bytes)")% of strongroom's full backup), UPDATE $UPDATED random pgbench_accounts rows; ~$(mib "$CHANGE_BYTES") MiB of pages written = ~$CHANGE_PCT% of the $(mib "$DB_BYTES") MiB of databases (upper estimate)"

# backup_pair PHASE: pgBackRest --type=diff, strongroom --type $SR_TYPE; seconds, bytes added
backup_pair() {
    local ph=$1 before
    before=$(pgbr_data_bytes)
    run_timed "$ph-pgbr" "${AS[@]}" "${PGBR[@]}" --type=diff backup
    R[pgbr.${ph}_s]=$SECS R[pgbr.${ph}_rss]=$RSS_MIB
    R[pgbr.${ph}_added]=$(($(pgbr_data_bytes) - before))
    before=$(sr_data_bytes)
    run_timed "$ph-sr" "${AS[@]}" "${SR[@]}" backup --repo "$REPO_SR" --key-file "$SRKEY" \
        --pg-data "$DATA" --pg-conn "$CONN" --type "$SR_TYPE"
    R[sr.${ph}_s]=$SECS R[sr.${ph}_rss]=$RSS_MIB
    R[sr.${ph}_added]=$(($(sr_data_bytes) - before))
    local t
    for t in pgbr sr; do
        R[$t.${ph}_added_mib]=$(mib "${R[$t.${ph}_added]}")
        R[$t.${ph}_added_pct]=$(calc "100 * ${R[$t.${ph}_added]} / ${R[$t.full_data]}" %.2f)
    done
}
backup_pair chg

# ---- phase 4: pgbench (streamed), diff / incr --------------------------------------------
# While pgbench runs, `strongroom stream` (asynchronous) follows a replication slot into the
# repository; the server's own view of it (pg_stat_replication: flush_lag, and the bytes between
# pg_current_wal_lsn() and flush_lsn) is sampled every 0.5 s from the second second of the run.
"${AS[@]}" "${SR[@]}" stream --repo "$REPO_SR" --key-file "$SRKEY" --pg-conn "$CONN" \
    >"$LOGS/stream.log" 2>&1 &
STREAM_Q="SELECT coalesce(extract(epoch FROM flush_lag), 0)::numeric(10,3) || ' ' ||
            pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint
          FROM pg_stat_replication WHERE application_name = 'strongroom'"
for ((i = 0; i < 100; i++)); do
    [[ -n $(q "$STREAM_Q") ]] && break
    sleep 0.1
done
[[ -n $(q "$STREAM_Q") ]] || { tail -n 20 "$LOGS/stream.log" >&2; die "strongroom stream did not connect"; }
# It starts at the beginning of the current segment: let it catch up first (the server keeps
# showing the lag of that catch-up until new WAL is acknowledged, hence also the 1 s wait after
# pgbench starts before sampling).
for ((i = 0; i < 100; i++)); do
    [[ $(q "$STREAM_Q" | cut -d' ' -f2) == 0 ]] && break
    sleep 0.1
done
log "pgbench -c 4 -j 2 -T $PGBENCH_SECONDS (streamed)"
"$PGBIN/pgbench" -c 4 -j 2 -T "$PGBENCH_SECONDS" -h 127.0.0.1 -p "$PORT" -U postgres bench \
    >"$LOGS/pgbench-run.log" 2>&1 &
PGBENCH_PID=$!
sleep 1
while kill -0 "$PGBENCH_PID" 2>/dev/null; do
    q "$STREAM_Q" >>"$LOGS/stream-lag.txt" 2>/dev/null || true
    sleep 0.5
done
wait "$PGBENCH_PID" || { tail -n 20 "$LOGS/pgbench-run.log" >&2; die "pgbench run failed"; }
STREAM_PROC=$(pgrep -f -- "stream --repo $REPO_SR" | head -n 1 || true)
R[sr.stream_rss]=$(calc "$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$STREAM_PROC/status" 2>/dev/null || echo 0) / 1024")
pkill -INT -f -- "stream --repo $REPO_SR" || true
for ((i = 0; i < 100; i++)); do pgrep -f -- "stream --repo $REPO_SR" >/dev/null || break; sleep 0.1; done
q "SELECT pg_drop_replication_slot('strongroom')" >/dev/null 2>&1 || true
R[sr.stream_samples]=$(wc -l <"$LOGS/stream-lag.txt")
R[sr.stream_lag_max]=$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { printf "%.3f", m }' "$LOGS/stream-lag.txt")
R[sr.stream_lag_p95]=$(awk '{ print $1 }' "$LOGS/stream-lag.txt" | sort -g |
    awk '{ v[NR] = $1 } END { i = int(NR * 0.95); if (i < 1) i = 1; printf "%.3f", v[i] }')
R[sr.stream_bytes_max]=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { printf "%.2f", m / 1048576 }' "$LOGS/stream-lag.txt")
PGBENCH_TPS=$(awk -F'= ' '/^tps/ { split($2, a, " "); print a[1]; exit }' "$LOGS/pgbench-run.log")
PGBENCH_TX=$(awk -F': ' '/^number of transactions actually processed/ { print $2; exit }' "$LOGS/pgbench-run.log")
pg_checkpoint >/dev/null
backup_pair bench

# ---- phase 5: restore of the latest backups, checked -------------------------------------
new_restore_dir "$WORK/restore-pgbr"
run_timed restore2-pgbr "${AS[@]}" "${PGBR[@]}" "--pg1-path=$WORK/restore-pgbr" restore
R[pgbr.rs2_s]=$SECS R[pgbr.rs2_rss]=$RSS_MIB
new_restore_dir "$WORK/restore-sr"
run_timed restore2-sr "${AS[@]}" "${SR[@]}" restore --repo "$REPO_SR" --key-file "$SRKEY" \
    --to "$WORK/restore-sr"
R[sr.rs2_s]=$SECS R[sr.rs2_rss]=$RSS_MIB
check_restored pgbr "$WORK/restore-pgbr" restore-latest-pgbr
check_restored sr "$WORK/restore-sr" restore-latest-sr
R[pgbr.rs2_check]=${R[pgbr.restore-latest-pgbr]} R[sr.rs2_check]=${R[sr.restore-latest-sr]}
rm -rf "$WORK/restore-pgbr" "$WORK/restore-sr"
R[pgbr.total_end]=$(dir_bytes "$REPO_PGBR") R[sr.total_end]=$(dir_bytes "$REPO_SR")
"${AS[@]}" "${SR[@]}" backups --repo "$REPO_SR" --key-file "$SRKEY" >"$LOGS/sr-backups.txt" 2>&1 || true
"${AS[@]}" "${PGBR[@]}" info >"$LOGS/pgbr-info.txt" 2>&1 || true

# ---- phase 6: WAL archiving throughput ---------------------------------------------------
# Let everything pending be archived, then pause archiving and make WAL_SEGMENTS .ready segments.
pg_switch_wal >/dev/null
for ((i = 0; i < 600; i++)); do
    [[ -z $(find "$DATA/pg_wal/archive_status" -name '*.ready' -print -quit) ]] && break
    sleep 0.2
done
pg_psql postgres "ALTER SYSTEM SET archive_command = ''"
pg_psql postgres "SELECT pg_reload_conf()" >/dev/null
sleep 1
ready_segments() {
    find "$DATA/pg_wal/archive_status" -name '*.ready' -printf '%f\n' |
        sed -n 's/^\([0-9A-F]\{24\}\)\.ready$/\1/p' | sort
}
log "generating $WAL_SEGMENTS WAL segments of kind $WAL_KIND (archiving paused)"
q "CREATE TABLE walgen(id bigserial, payload text)"
next_aid=1
while (($(ready_segments | wc -l) < WAL_SEGMENTS)); do
    if [[ $WAL_KIND == md5 ]]; then
        q "INSERT INTO walgen(payload) SELECT md5(random()::text) || md5(random()::text)
           FROM generate_series(1, 50000)"
    else # oltp: updates of account rows, as transfers make them (update records and page images)
        q "UPDATE pgbench_accounts SET abalance = abalance + 1
           WHERE aid BETWEEN $next_aid AND $((next_aid + 49999))"
        next_aid=$(((next_aid + 50000) % NACC))
    fi
done
pg_switch_wal >/dev/null
mapfile -t SEGS < <(ready_segments | head -n "$WAL_SEGMENTS")
((${#SEGS[@]} == WAL_SEGMENTS)) || die "only ${#SEGS[@]} ready segments"
SEG_PATHS=()
for s in "${SEGS[@]}"; do SEG_PATHS+=("$DATA/pg_wal/$s"); done
WAL_BYTES=$((WAL_SEGMENTS * $(stat -c %s "${SEG_PATHS[0]}")))

# Fresh repositories, so every tool starts from the same state.
CONF_WAL=$(pgbr_conf wal "$WORK/repo-wal-pgbackrest")
CONF_ASYNC=$(pgbr_conf async "$WORK/repo-wal-pgbackrest-async" "archive-async=y")
as_pg_ok stanza-create-wal pgbackrest "--config=$CONF_WAL" --stanza=bench stanza-create
as_pg_ok stanza-create-async pgbackrest "--config=$CONF_ASYNC" --stanza=bench stanza-create
mkdir "$WORK/repo-wal-strongroom" && chown "$PGU" "$WORK/repo-wal-strongroom"
as_pg_ok sr-init-wal env "STRONGROOM_PASSWORD_FILE=$PWFILE" "${SR[@]}" init --repo "$WORK/repo-wal-strongroom"
as_pg_ok sr-key-wal env "STRONGROOM_PASSWORD_FILE=$PWFILE" "${SR[@]}" key add --repo "$WORK/repo-wal-strongroom" --new-key-file "$WORK/sr-keys/wal.key"
mkdir "$WORK/repo-wal-strongroom-async" && chown "$PGU" "$WORK/repo-wal-strongroom-async"
as_pg_ok sr-init-wal-async env "STRONGROOM_PASSWORD_FILE=$PWFILE" "${SR[@]}" init --repo "$WORK/repo-wal-strongroom-async"
as_pg_ok sr-key-wal-async env "STRONGROOM_PASSWORD_FILE=$PWFILE" "${SR[@]}" key add --repo "$WORK/repo-wal-strongroom-async" --new-key-file "$WORK/sr-keys/wal-async.key"
mkdir "$WORK/sr-spool" && chown "$PGU" "$WORK/sr-spool"

# One call per segment, in order, as the archiver would; the first failure stops the loop.
PUSH_LOOP='cmd=$1; shift; for f in "$@"; do eval "$cmd \"\$f\"" || { echo "push failed: $f" >&2; exit 1; }; done'
run_timed walpush-pgbr "${AS[@]}" bash -c "$PUSH_LOOP" _ \
    "pgbackrest --config=$CONF_WAL --stanza=bench archive-push" "${SEG_PATHS[@]}"
R[pgbr.wal_s]=$SECS R[pgbr.wal_rss]=$RSS_MIB
run_timed walpush-pgbr-async "${AS[@]}" bash -c "$PUSH_LOOP" _ \
    "pgbackrest --config=$CONF_ASYNC --stanza=bench archive-push" "${SEG_PATHS[@]}"
R[pgbr.walasync_s]=$SECS R[pgbr.walasync_rss]=$RSS_MIB
run_timed walpush-sr "${AS[@]}" bash -c "$PUSH_LOOP" _ \
    "$STRONGROOM_BIN wal-push --repo $WORK/repo-wal-strongroom --key-file $WORK/sr-keys/wal.key" "${SEG_PATHS[@]}"
R[sr.wal_s]=$SECS R[sr.wal_rss]=$RSS_MIB
# Asynchronous: the pusher pushes the .ready segments ahead and each call returns once its
# segment is in the repository (like pgBackRest's async archive-push); the time also waits until
# nothing is left in the spool. The pusher is a detached process: its peak RSS (VmHWM, read while
# it idles after the run) is reported on a row of its own.
SR_ASYNC_LOOP='cmd=$1; spool=$2; shift 2; for f in "$@"; do eval "$cmd \"\$f\"" || exit 1; done
  while ls "$spool" | grep -q "^0"; do sleep 0.05; done
  hwm=0; for p in $(pgrep -f -- "--async-spool $spool"); do
    k=$(sed -n "s/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/$p/status 2>/dev/null); ((${k:-0} > hwm)) && hwm=$k; done
  echo "$hwm" >"$spool/pusher-hwm-kb"'
run_timed walpush-sr-async "${AS[@]}" bash -c "$SR_ASYNC_LOOP" _ \
    "$STRONGROOM_BIN wal-push --repo $WORK/repo-wal-strongroom-async --key-file $WORK/sr-keys/wal-async.key --async-spool $WORK/sr-spool" \
    "$WORK/sr-spool" "${SEG_PATHS[@]}"
R[sr.walasync_s]=$SECS R[sr.walasync_rss]=$RSS_MIB
R[sr.pusher_rss]=$(calc "$(cat "$WORK/sr-spool/pusher-hwm-kb" 2>/dev/null || echo 0) / 1024")
pkill -f -- "--async-spool $WORK/sr-spool" || true # the pusher would idle on for 10 s
R[pgbr.pusher_rss]="-"
for k in stream_samples stream_lag_max stream_lag_p95 stream_bytes_max stream_rss; do R[pgbr.$k]="-"; done
R[pgbr.wal_repo]=$(dir_bytes "$WORK/repo-wal-pgbackrest")
R[sr.wal_repo]=$(dir_bytes "$WORK/repo-wal-strongroom")
# Every pushed segment must be in each repository.
n=$(find "$WORK/repo-wal-pgbackrest/archive" -name '0*-*' | wc -l)
((n >= WAL_SEGMENTS)) || die "pgBackRest archive holds $n segments, expected $WAL_SEGMENTS"
n=$(find "$WORK/repo-wal-pgbackrest-async/archive" -name '0*-*' | wc -l)
((n >= WAL_SEGMENTS)) || die "pgBackRest async archive holds $n segments, expected $WAL_SEGMENTS"
n=$(find "$WORK/repo-wal-strongroom/wal" -type f -name '0*' | wc -l)
((n >= WAL_SEGMENTS)) || die "strongroom archive holds $n segments, expected $WAL_SEGMENTS"

# ---- derived metrics ---------------------------------------------------------------------
nz() { calc "($1 > 0) ? $1 : 0.01" %.2f; } # guard against 0.00 s
for t in pgbr sr; do
    R[$t.full_data_mib]=$(mib "${R[$t.full_data]}")
    R[$t.full_total_mib]=$(mib "${R[$t.full_total]}")
    R[$t.total_end_mib]=$(mib "${R[$t.total_end]}")
    R[$t.full_mibs]=$(calc "$DATA_BYTES / 1048576 / $(nz "${R[$t.full_s]}")" %.1f)
    R[$t.rs_total]=$(calc "${R[$t.rs_s]} + ${R[$t.rs_sync]}")
    R[$t.wal_segs]=$(calc "$WAL_SEGMENTS / $(nz "${R[$t.wal_s]}")" %.1f)
    R[$t.wal_repo_mib]=$(mib "${R[$t.wal_repo]}")
    R[$t.chg_over_full]=$(calc "${R[$t.chg_s]} / $(nz "${R[$t.full_s]}")" %.3f)
done
R[pgbr.walasync_segs]=$(calc "$WAL_SEGMENTS / $(nz "${R[pgbr.walasync_s]}")" %.1f)
R[sr.walasync_segs]=$(calc "$WAL_SEGMENTS / $(nz "${R[sr.walasync_s]}")" %.1f)
n=$(find "$WORK/repo-wal-strongroom-async/wal" -type f -name '0*' | wc -l)
((n >= WAL_SEGMENTS)) || die "strongroom async archive holds $n segments, expected $WAL_SEGMENTS"
R[sr.rss_max]=$(printf '%s\n' "${R[sr.full_rss]}" "${R[sr.rs_rss]}" "${R[sr.chg_rss]}" \
    "${R[sr.bench_rss]}" "${R[sr.rs2_rss]}" "${R[sr.wal_rss]}" "${R[sr.walasync_rss]}" \
    "${R[sr.pusher_rss]}" "${R[sr.stream_rss]}" | sort -g | tail -n 1)
R[pgbr.rss_max]=$(printf '%s\n' "${R[pgbr.full_rss]}" "${R[pgbr.rs_rss]}" "${R[pgbr.chg_rss]}" \
    "${R[pgbr.bench_rss]}" "${R[pgbr.rs2_rss]}" "${R[pgbr.wal_rss]}" "${R[pgbr.walasync_rss]}" |
    sort -g | tail -n 1)

# ---- report ------------------------------------------------------------------------------
# row LABEL METRIC: one table line, ratio = strongroom / pgBackRest (when both are numbers)
is_num() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
row() {
    local a=${R[pgbr.$2]} b=${R[sr.$2]} ratio=""
    if is_num "$a" && is_num "$b"; then ratio=$(calc "($a > 0) ? $b / $a : 0" %.2f); fi
    printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "$ratio"
}
check() { # DESCRIPTION AWK-CONDITION MEASURED
    local verdict=FAIL
    [[ $(calc "($2) ? 1 : 0" %d) == 1 ]] && verdict=PASS
    printf -- '- **%s** %s (measured: %s)\n' "$verdict" "$1" "$3"
}
S() { echo "${R[sr.$1]}"; }
P() { echo "${R[pgbr.$1]}"; }

report() {
    local pgver
    pgver=$(pg_psql postgres "SHOW server_version")
    echo "## strongroom vs pgBackRest (PostgreSQL $pgver, pgbench scale $SCALE)"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- kernel: $(uname -r)"
    echo "- work dir filesystem: $(df --output=fstype "$WORK" | tail -n 1) ($(df --output=source "$WORK" | tail -n 1))"
    echo "- pgBackRest: $(pgbackrest version); repo1 posix, process-max=2, compress-type=zst, compress-level=1, start-fast=y, no encryption"
    echo "- strongroom: $("$STRONGROOM_BIN" --version 2>/dev/null | head -n 1); binary sha256 $SR_BIN_FACTS (run from a copy); repository defaults (encrypted; zstd 1 for PostgreSQL pages and WAL), opened with a key file; after the full: --type $SR_TYPE"
    echo "- cache: $CACHE_STATE"
    echo "- cluster: $(mib "$DB_BYTES") MiB of databases, data dir without pg_wal $(mib "$DATA_BYTES") MiB; both tools run as the server's OS user ($PGU); archive_command pushes each segment to both tools"
    echo "- change before the first diff/incr: $CHANGE_DESC"
    echo "- pgbench before the second diff/incr: -c 4 -j 2 -T $PGBENCH_SECONDS, $PGBENCH_TX transactions, $PGBENCH_TPS tps"
    if [[ $WAL_KIND == md5 ]]; then
        echo "- WAL: $WAL_SEGMENTS segments ($(mib "$WAL_BYTES") MiB, inserts of random md5 text: compression-bound), pushed one call per segment from pg_wal"
    else
        echo "- WAL: $WAL_SEGMENTS segments ($(mib "$WAL_BYTES") MiB, updates of pgbench_accounts rows: update records and full-page images, as OLTP makes), pushed one call per segment from pg_wal"
    fi
    echo "- archive_command failures in the server log during the run: $(grep -c 'archive command failed' "$DATA/server.log" || true) (a failure delays archiving, and so the end of the next backup)"
    echo "- repository sizes and \"added\" exclude archived WAL (strongroom: repository minus wal/; pgBackRest: backup/)"
    echo "- restores write into an empty dir; both tools fsync what they restore (strongroom syncs before reporting success; pgBackRest fsyncs each file it writes and syncs the directories at the end); the \`sync\` right after each restore is timed separately"
    echo
    echo "| metric | pgBackRest | strongroom | ratio (strongroom/pgBackRest) |"
    echo "|---|---:|---:|---:|"
    row "full backup: seconds" full_s
    row "full backup: MiB/s (data dir bytes / seconds)" full_mibs
    row "full backup: peak RSS MiB" full_rss
    row "repository after full, without WAL (MiB)" full_data_mib
    row "repository after full, with WAL (MiB)" full_total_mib
    row "restore of the full: seconds" rs_s
    row "restore of the full: \`sync\` after it, seconds" rs_sync
    row "restore of the full: seconds incl. that sync" rs_total
    row "restore of the full: seconds, run 1 / run 2 (order pgBackRest, strongroom, strongroom, pgBackRest)" rs_runs
    row "restore of the full: peak RSS MiB" rs_rss
    row "restore of the full: restored cluster recovers and matches" rs_check
    row "after the ~$CHANGE_PCT% change, diff / $SR_TYPE: seconds" chg_s
    row "after the change: seconds / full backup seconds" chg_over_full
    row "after the change: MiB added" chg_added_mib
    row "after the change: added, % of the full's stored bytes" chg_added_pct
    row "after the change: peak RSS MiB" chg_rss
    row "after ${PGBENCH_SECONDS} s of pgbench, diff / $SR_TYPE: seconds" bench_s
    row "after pgbench: MiB added" bench_added_mib
    row "after pgbench: added, % of the full's stored bytes" bench_added_pct
    row "after pgbench: peak RSS MiB" bench_rss
    row "restore of the latest: seconds" rs2_s
    row "restore of the latest: restored cluster recovers and matches" rs2_check
    row "repository at the end, with WAL (MiB)" total_end_mib
    row "WAL push, sync, $WAL_SEGMENTS segments: seconds" wal_s
    row "WAL push, sync: segments/s" wal_segs
    row "WAL push, sync: peak RSS MiB" wal_rss
    row "WAL push, sync: repository MiB" wal_repo_mib
    row "WAL push, async (process-max=2): seconds" walasync_s
    row "WAL push, async: segments/s" walasync_segs
    row "WAL push, async: peak RSS MiB of the calls" walasync_rss
    row "streaming during the pgbench run: samples of pg_stat_replication" stream_samples
    row "streaming: flush_lag, max seconds" stream_lag_max
    row "streaming: flush_lag, 95th percentile seconds" stream_lag_p95
    row "streaming: WAL not yet flushed, max MiB" stream_bytes_max
    row "streaming: peak RSS MiB" stream_rss
    row "WAL push, async: peak RSS MiB of strongroom's pusher (detached)" pusher_rss
    row "peak RSS MiB, any phase (pgBackRest: largest single process)" rss_max
    echo
    echo "Targets:"
    echo
    check "full backup time <= 0.5x pgBackRest's" \
        "$(S full_s) <= 0.5 * $(P full_s)" "$(calc "$(S full_s) / $(nz "$(P full_s)")")x"
    check "repository after the full (without WAL) <= pgBackRest zstd-1's" \
        "$(S full_data) <= $(P full_data)" "$(S full_data_mib) vs $(P full_data_mib) MiB"
    check "restore time (incl. the sync after it) <= 0.67x pgBackRest's" \
        "$(S rs_total) <= 0.67 * $(P rs_total)" "$(calc "$(S rs_total) / $(nz "$(P rs_total)")")x"
    check "$SR_TYPE after the ~2% change stores <= 5% of the full backup's stored bytes" \
        "$(S chg_added_pct) <= 5" "$(S chg_added_pct)%"
    check "$SR_TYPE after the ~2% change takes <= 0.5x pgBackRest's diff time" \
        "$(S chg_s) <= 0.5 * $(P chg_s)" "$(calc "$(S chg_s) / $(nz "$(P chg_s)")")x"
    check "$SR_TYPE after ${PGBENCH_SECONDS} s of pgbench stores <= pgBackRest's diff" \
        "$(S bench_added) <= $(P bench_added)" "$(S bench_added_mib) vs $(P bench_added_mib) MiB"
    check "wal-push throughput >= 1.5x archive-push (sync)" \
        "$(S wal_segs) >= 1.5 * $(P wal_segs)" "$(calc "$(S wal_segs) / $(nz "$(P wal_segs)")")x"
    check "peak RSS <= 128 MiB in every strongroom phase" \
        "$(S rss_max) <= 128" "max $(S rss_max) MiB"
    check "wal-push throughput >= 1.5x archive-push (async)" \
        "$(S walasync_segs) >= 1.5 * $(P walasync_segs)" "$(calc "$(S walasync_segs) / $(nz "$(P walasync_segs)")")x"
    check "streaming keeps up with pgbench -c 4 with lag <= 1 s (server's flush_lag)" \
        "$(S stream_samples) > 0 && $(S stream_lag_max) <= 1" "max $(S stream_lag_max) s, p95 $(S stream_lag_p95) s over $(S stream_samples) samples, at most $(S stream_bytes_max) MiB behind"
    echo
    if ((RESTORE_BAD)); then
        echo "Restore checks FAILED:"
        printf -- '- %s\n' "${RESTORE_NOTES[@]}"
    else
        echo "Every restored cluster (full and latest, both tools) started, recovered from its tool's" \
            "WAL archive and gave the original's count/sum of pgbench_accounts, pgbench_history and ledger."
    fi
}

report | tee "$OUT"
log "report written to $OUT"
exit $((RESTORE_BAD ? 1 : 0))
