#!/usr/bin/env bash
# WAL archiving, one call per segment as archive_command makes them: strongroom `wal-push` vs
# pgBackRest 2.45 `archive-push`, synchronous and asynchronous, on two kinds of WAL, RUNS rounds
# in one run.
#
# A PostgreSQL 15 cluster (tests/pg/pglib.sh, user srpg; pgbench -i -s SCALE) with archiving
# paused (archive_command = '') makes SEGMENTS .ready segments of one kind:
#   md5   inserts of random md5 text (compression-bound)
#   oltp  updates of pgbench_accounts rows (update records and full-page images)
# then every round pushes those same segments from pg_wal, in order, one call each, with each of
# four pushers into a fresh repository of its own: pgBackRest sync, pgBackRest async
# (archive-async=y, process-max=2), strongroom sync, strongroom async (--async-spool; the time
# also waits until the spool is empty). Each async tool's background process is ended after its
# push, so that it does not compete with the next push for the cores. Odd rounds run pgBackRest first, even rounds strongroom
# first. Caches are dropped before each push. Then the segments are marked done and the next kind
# is made. Both tools run as the server's OS user; strongroom opens its repository with a key file;
# pgBackRest: compress-type=zst, compress-level=1, no encryption (strongroom encrypts).
# The report lists segments/s for every push and the ratio strongroom/pgBackRest per round and
# mode; the target (issue 11) is >= 1.5x in every round, in both modes, on both kinds.
#
# Usage: bench/bench_walpush.sh [--segments N] [--runs N] [--kinds "md5 oltp"] [--scale N]
#                               [--workdir DIR] [--out FILE] [--keep]
#   --segments N   segments per kind (default 60)
#   --runs N       rounds (default 5)
#   --kinds K      WAL kinds, in order (default "md5 oltp")
#   --scale N      pgbench scale of the cluster (default 10)
# Env: STRONGROOM_BIN (default build/strongroom). Run as root (apt-get, drop_caches, runuser).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../tests/pg/pglib.sh
source "$PROJECT_DIR/tests/pg/pglib.sh"
trap pg_cleanup EXIT

SEGMENTS=60
RUNS=5
KINDS="md5 oltp"
SCALE=10
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-walpush.md
KEEP=0
while (($#)); do
    case $1 in
        --segments) SEGMENTS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --kinds) KINDS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in SEGMENTS RUNS SCALE; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { v=${v,,}; die "--$v needs a positive integer"; }
done
for k in $KINDS; do [[ $k == md5 || $k == oltp ]] || die "--kinds takes md5 and/or oltp"; done
[[ $(id -u) -eq 0 ]] || die "run as root (apt-get, drop_caches, runuser to the server's user)"
[[ -x /usr/bin/time ]] || die "GNU time is missing (apt-get install time)"
command -v pgbackrest >/dev/null || {
    log "installing pgbackrest"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbackrest >/dev/null ||
        die "apt-get install pgbackrest failed"
}
pg_install
[[ -x $STRONGROOM_BIN ]] || die "strongroom binary not found at $STRONGROOM_BIN"
PGU=$(pg_user)

mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-walpush.XXXXXX")
chmod 755 "$WORK"
cleanup() {
    pkill -f -- "--async-spool $WORK/" 2>/dev/null || true
    pg_cleanup
    if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"
LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/bin"
cp "$STRONGROOM_BIN" "$WORK/bin/strongroom"
SR_FACTS="$(sha256sum "$STRONGROOM_BIN" | cut -c1-12), built $(date -u -r "$STRONGROOM_BIN" +%Y-%m-%dT%H:%M:%SZ)"
SR=$WORK/bin/strongroom
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
chmod 600 "$WORK/password"
chown "$PGU" "$WORK/password"
unset STRONGROOM_REPOSITORY STRONGROOM_PASSWORD STRONGROOM_PASSWORD_FILE
AS=(runuser -u "$PGU" -- env "STRONGROOM_CACHE_DIR=$WORK/sr-cache")
mkdir "$WORK/sr-cache" && chown "$PGU" "$WORK/sr-cache"

DATA=$WORK/pgdata
PORT=$(pg_free_port)
log "starting PostgreSQL 15 on port $PORT; pgbench -i -s $SCALE"
pg_start "$DATA" "$PORT" "archive_command=''"
SOCK=$(pg_psql postgres "SHOW unix_socket_directories")
pg_psql postgres "CREATE DATABASE bench"
"$PGBIN/pgbench" -i -s "$SCALE" -q -h 127.0.0.1 -p "$PORT" -U postgres bench >"$LOGS/pgbench-init.log" 2>&1 ||
    { tail -n 20 "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }
NACC=$((SCALE * 100000))
q() { pg_psql bench "$1"; }
q "CREATE TABLE walgen(id bigserial, payload text)"

ready_segments() {
    find "$DATA/pg_wal/archive_status" -name '*.ready' -printf '%f\n' |
        sed -n 's/^\([0-9A-F]\{24\}\)\.ready$/\1/p' | sort
}
# Every segment made so far (by the load, and by the previous kind) is no longer ready.
mark_done() {
    local s
    for s in $(ready_segments); do
        mv "$DATA/pg_wal/archive_status/$s.ready" "$DATA/pg_wal/archive_status/$s.done"
    done
}

pgbr_conf() { # NAME [EXTRA...] -> config path, with its own repository, log, lock and spool dirs
    local name=$1 d=$WORK/pgbr-$1 line
    shift
    mkdir -p "$d/repo" "$d/log" "$d/lock" "$d/spool"
    chown -R "$PGU" "$d"
    {
        echo "[global]"
        echo "repo1-path=$d/repo"
        echo "process-max=2"
        echo "compress-type=zst"
        echo "compress-level=1"
        echo "log-path=$d/log"
        echo "lock-path=$d/lock"
        echo "spool-path=$d/spool"
        for line in "$@"; do echo "$line"; done
        echo "[bench]"
        echo "pg1-path=$DATA"
        echo "pg1-port=$PORT"
        echo "pg1-socket-path=$SOCK"
        echo "pg1-user=postgres"
    } >"$d.conf"
    chmod 644 "$d.conf"
    "${AS[@]}" pgbackrest "--config=$d.conf" --stanza=bench stanza-create >"$LOGS/stanza-$name.log" 2>&1 ||
        die "pgBackRest stanza-create failed (see $LOGS/stanza-$name.log)"
    echo "$d.conf"
}
sr_repo() { # NAME -> dir holding the repository (DIR/repo, initialised) and a key file (DIR/key)
    local d=$WORK/sr-$1
    mkdir "$d" && chown "$PGU" "$d"
    "${AS[@]}" "$SR" init --repo "$d/repo" --password-file "$WORK/password" >"$LOGS/sr-init-$1.log" 2>&1 ||
        die "strongroom init failed (see $LOGS/sr-init-$1.log)"
    "${AS[@]}" env "STRONGROOM_PASSWORD_FILE=$WORK/password" "$SR" key add --repo "$d/repo" \
        --new-key-file "$d/key" >"$LOGS/sr-key-$1.log" 2>&1 || die "strongroom key add failed (see $LOGS/sr-key-$1.log)"
    echo "$d"
}

PUSH_LOOP='cmd=$1; shift; for f in "$@"; do eval "$cmd \"\$f\"" || { echo "push failed: $f" >&2; exit 1; }; done'
SR_ASYNC_LOOP='cmd=$1; spool=$2; shift 2; for f in "$@"; do eval "$cmd \"\$f\"" || exit 1; done
  while ls "$spool" | grep -q "^0"; do sleep 0.05; done'

# stop_procs PATTERN: end the processes whose command line has PATTERN, and wait until they are gone.
stop_procs() {
    local i
    pkill -f -- "$1" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pgrep -f -- "$1" >/dev/null || return 0
        sleep 0.05
    done
    pkill -9 -f -- "$1" 2>/dev/null || true
}

declare -A R
push() { # KIND ROUND PUSHER
    local kind=$1 r=$2 p=$3 conf repo name=$1-$2-$3
    case $p in
        pgbr) conf=$(pgbr_conf "$name")
            run_timed "$name" "${AS[@]}" bash -c "$PUSH_LOOP" _ \
                "pgbackrest --config=$conf --stanza=bench archive-push" "${SEG_PATHS[@]}" ;;
        pgbr_async) conf=$(pgbr_conf "$name" "archive-async=y")
            run_timed "$name" "${AS[@]}" bash -c "$PUSH_LOOP" _ \
                "pgbackrest --config=$conf --stanza=bench archive-push" "${SEG_PATHS[@]}"
            # Its background process may outlive the calls: gone before the next push starts.
            stop_procs "--config=$conf" ;;
        sr) repo=$(sr_repo "$name")
            run_timed "$name" "${AS[@]}" bash -c "$PUSH_LOOP" _ \
                "$SR wal-push --repo $repo/repo --key-file $repo/key" "${SEG_PATHS[@]}" ;;
        sr_async) repo=$(sr_repo "$name")
            mkdir "$WORK/spool-$name" && chown "$PGU" "$WORK/spool-$name"
            run_timed "$name" "${AS[@]}" bash -c "$SR_ASYNC_LOOP" _ \
                "$SR wal-push --repo $repo/repo --key-file $repo/key --async-spool $WORK/spool-$name" \
                "$WORK/spool-$name" "${SEG_PATHS[@]}"
            stop_procs "--async-spool $WORK/spool-$name" ;;
    esac
    R[$kind.$p.$r]=$(calc "$SEGMENTS / $SECS" %.1f)
    R[$kind.$p.$r.secs]=$SECS # ratios come from the unrounded times
    R[$kind.$p.$r.rss]=$RSS_MIB
}

for kind in $KINDS; do
    mark_done
    log "generating $SEGMENTS WAL segments of kind $kind"
    next_aid=1
    while (($(ready_segments | wc -l) < SEGMENTS)); do
        if [[ $kind == md5 ]]; then
            q "INSERT INTO walgen(payload) SELECT md5(random()::text) || md5(random()::text)
               FROM generate_series(1, 50000)"
        else
            q "UPDATE pgbench_accounts SET abalance = abalance + 1
               WHERE aid BETWEEN $next_aid AND $((next_aid + 49999))"
            next_aid=$(((next_aid + 50000) % NACC))
        fi
    done
    pg_switch_wal >/dev/null
    mapfile -t SEGS < <(ready_segments | head -n "$SEGMENTS")
    SEG_PATHS=()
    for s in "${SEGS[@]}"; do SEG_PATHS+=("$DATA/pg_wal/$s"); done
    # Only these segments are ready: the async pushers look ahead at what is ready.
    for s in $(ready_segments | tail -n +$((SEGMENTS + 1))); do
        mv "$DATA/pg_wal/archive_status/$s.ready" "$DATA/pg_wal/archive_status/$s.done"
    done
    for ((r = 1; r <= RUNS; r++)); do
        if ((r % 2)); then order=(pgbr sr pgbr_async sr_async); else order=(sr pgbr sr_async pgbr_async); fi
        for p in "${order[@]}"; do push "$kind" "$r" "$p"; done
        R[$kind.ratio.$r]=$(calc "${R[$kind.pgbr.$r.secs]} / ${R[$kind.sr.$r.secs]}" %.3f)
        R[$kind.ratio_async.$r]=$(calc "${R[$kind.pgbr_async.$r.secs]} / ${R[$kind.sr_async.$r.secs]}" %.3f)
        log "$kind round $r: sync ${R[$kind.ratio.$r]}x, async ${R[$kind.ratio_async.$r]}x"
        # pgBackRest's async process may still be pushing ahead (every call's own segment is in).
        pkill -f -- "--config=$WORK/pgbr-$kind-$r-" 2>/dev/null || true
        sleep 0.5
        rm -rf "$WORK"/pgbr-"$kind-$r"-* "$WORK"/sr-"$kind-$r"-* "$WORK"/spool-"$kind-$r"-* || true
    done
done

report() {
    echo "## wal-push vs archive-push, $RUNS rounds (bench/bench_walpush.sh)"
    echo
    machine_facts "$WORK" | grep -v '^- restic'
    echo "- strongroom binary: sha256 $SR_FACTS; key file; pgBackRest: $(pgbackrest version), compress-type=zst, compress-level=1, async with process-max=2"
    echo "- $SEGMENTS segments of 16 MiB per kind, one call per segment from pg_wal; caches dropped before each push; fresh repositories for every push; odd rounds pgBackRest first"
    local kind r all=1 n
    for kind in $KINDS; do
        echo
        echo "### WAL kind $kind (segments/s)"
        echo
        echo "| round | pgBackRest sync | strongroom sync | ratio | pgBackRest async | strongroom async | ratio |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for ((r = 1; r <= RUNS; r++)); do
            echo "| $r | ${R[$kind.pgbr.$r]} | ${R[$kind.sr.$r]} | ${R[$kind.ratio.$r]} | ${R[$kind.pgbr_async.$r]} | ${R[$kind.sr_async.$r]} | ${R[$kind.ratio_async.$r]} |"
        done
        for m in ratio ratio_async; do
            n=0
            for ((r = 1; r <= RUNS; r++)); do
                [[ $(calc "(${R[$kind.$m.$r]} >= 1.5) ? 1 : 0" %d) == 1 ]] && n=$((n + 1))
            done
            ((n == RUNS)) || all=0
            echo
            echo -n "- $kind, $([[ $m == ratio ]] && echo sync || echo async): >= 1.5x in $n of $RUNS rounds"
        done
        echo
        local rss
        rss=$(for ((r = 1; r <= RUNS; r++)); do echo "${R[$kind.sr.$r.rss]}"; echo "${R[$kind.sr_async.$r.rss]}"; done | sort -g | tail -n 1)
        echo "- strongroom's peak RSS per call: $rss MiB"
    done
    echo
    if ((all)); then
        echo "- **PASS** wal-push >= 1.5x archive-push in every round, sync and async, on every kind"
    else
        echo "- **FAIL** wal-push >= 1.5x archive-push in every round, sync and async, on every kind"
    fi
}
report | tee "$OUT"
log "report written to $OUT"
