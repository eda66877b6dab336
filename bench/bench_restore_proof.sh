#!/usr/bin/env bash
# restore-test against a plain `restore --start` of the same backup, in one run (issue 12).
#
# Setup (untimed): a PostgreSQL 15 cluster (tests/pg/pglib.sh, as the unprivileged user srpg)
# with pgbench -i -s SCALE (~1.5 GiB at 100), archiving with `strongroom wal-push`, one full
# backup, and a configuration whose source validates `SELECT count(*) FROM pgbench_accounts`.
# Rounds (alternating order, caches dropped before each):
#   plain: `strongroom restore --start` as the server's user into an empty directory (timed to
#          when it reports the server recovered), then the server is stopped (untimed);
#   test:  `strongroom restore-test --source bench` as root (the scratch server runs as the
#          server's user): restore, recover, validate, stop, remove — its RTO as it reports it
#          and the command's wall time.
# Target: restore-test <= 1.5x the plain restore (medians of the rounds, same run).
#
# Usage: bench/bench_restore_proof.sh [--scale N] [--runs N] [--workdir DIR] [--out FILE] [--keep]
# Env: STRONGROOM_BIN (default build/strongroom). Run as root.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../tests/pg/pglib.sh
source "$PROJECT_DIR/tests/pg/pglib.sh"

SCALE=100
RUNS=3
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-restore-proof.md
KEEP=0
while (($#)); do
    case $1 in
        --scale) SCALE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || die "run as root (drop_caches, runuser to the server's user)"
ensure_deps
pg_install >/dev/null
mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-bench-proof.XXXXXX")
chmod 755 "$WORK"
cleanup() { if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
pg_cleanup_on_exit  # stops the servers first
LOGS=$WORK/logs
mkdir -p "$LOGS"
PGU=$(pg_user)
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
chown "$PGU" "$WORK/password"
chmod 600 "$WORK/password"
mkdir -p "$WORK/cache" "$WORK/repo"
chown -R "$PGU" "$WORK/cache" "$WORK/repo"
export STRONGROOM_CACHE_DIR=$WORK/cache
AS=(runuser -u "$PGU" -- env "STRONGROOM_CACHE_DIR=$WORK/cache")
DATA=$WORK/pgdata
PORT=$(pg_free_port)
CFG=$WORK/strongroom.yaml
cat >"$CFG" <<YAML
repositories:
  primary: {url: $WORK/repo, password_file: $WORK/password}
sources:
  bench:
    type: postgres
    kind: database
    stanza: bench
    pg_data: $DATA
    pg_conn: "host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
    validate:
      - {name: accounts, database: bench, query: SELECT count(*) FROM pgbench_accounts, expect: "= $((SCALE * 100000))"}
YAML
chmod 644 "$CFG"

"${AS[@]}" "$STRONGROOM_BIN" init --repo "$WORK/repo" --password-file "$WORK/password" >"$LOGS/init.log" 2>&1
log "starting PostgreSQL 15 on port $PORT; pgbench -i -s $SCALE"
pg_start "$DATA" "$PORT" "archive_command='$STRONGROOM_BIN wal-push --config $CFG --source bench %p'"
pg_psql postgres "CREATE DATABASE bench" >/dev/null
"$PGBIN/pgbench" -i -s "$SCALE" -q -h 127.0.0.1 -p "$PORT" -U postgres bench >"$LOGS/pgbench-init.log" 2>&1 ||
    die "pgbench -i failed"
"${AS[@]}" "$STRONGROOM_BIN" backup --config "$CFG" --source bench >"$LOGS/backup.log" 2>&1 ||
    die "backup failed: $(tail -n 3 "$LOGS/backup.log")"
pg_switch_wal >/dev/null
sleep 2
BYTES=$(du -sb --exclude=pg_wal "$DATA" | cut -f1)

plain() {
    local dir=$WORK/plain port
    rm -rf "$dir"
    mkdir "$dir" && chown "$PGU" "$dir" && chmod 700 "$dir"
    port=$(pg_free_port)
    run_timed "plain-$1" "${AS[@]}" "$STRONGROOM_BIN" restore --config "$CFG" --source bench \
        --to "$dir" --start --port "$port" --force
    runuser -u "$PGU" -- "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
proof() {
    run_timed "test-$1" "$STRONGROOM_BIN" restore-test --config "$CFG" --source bench \
        --scratch "$WORK" --json
    grep -q '"passed": true' "$LOGS/test-$1.log" || die "restore-test failed: $(head -c 2000 "$LOGS/test-$1.log")"
    # The log holds stderr too: the JSON object starts at the first line that is "{".
    RTO=$(python3 -c 'import json,sys; t=open(sys.argv[1]).read(); print("%.3f" % json.loads(t[t.index("\n{")+1 if not t.startswith("{") else 0:])["rto_seconds"])' "$LOGS/test-$1.log")
    grep -v '^ \|^{\|^}\|^\]' "$LOGS/test-$1.log" | head -n 3 >&2 || true
}

declare -a P T RT RATIO
for ((r = 1; r <= RUNS; r++)); do
    if ((r % 2)); then
        plain "$r"; p=$SECS
        proof "$r"; t=$SECS
    else
        proof "$r"; t=$SECS
        plain "$r"; p=$SECS
    fi
    P+=("$p") T+=("$t") RT+=("$RTO") RATIO+=("$(calc "$t / $p" %.3f)")
    log "round $r: plain restore --start $p s, restore-test $t s (RTO $RTO s)"
done

pm=$(median "${P[@]}") tm=$(median "${T[@]}") rm_=$(median "${RT[@]}") ratio=$(median "${RATIO[@]}")
{
    echo "# restore-test against restore --start (pgbench scale $SCALE)"
    echo
    machine_facts "$WORK"
    echo "- data directory: $(mib "$BYTES") MiB; $RUNS rounds, alternating, $CACHE_STATE; medians (spread)"
    echo
    echo "| | seconds |"
    echo "|---|---:|"
    echo "| restore --start (as the server's user) | $pm ($(spread "${P[@]}")) |"
    echo "| restore-test (restore, recover, validate, stop, remove) | $tm ($(spread "${T[@]}")) |"
    echo "| restore-test's own RTO figure | $rm_ ($(spread "${RT[@]}")) |"
    echo "| ratio restore-test / restore --start (per round) | $ratio ($(spread "${RATIO[@]}")) |"
    echo
    echo "Target: restore-test <= 1.5x restore --start: $ratio — $(awk "BEGIN { exit !($ratio <= 1.5) }" && echo PASS || echo FAIL)"
} | tee "$OUT"
