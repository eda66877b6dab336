#!/usr/bin/env bash
# Restores against the disk's own limit, in one run: strongroom vs pgBackRest 2.45 on a PostgreSQL
# 15 cluster (pgbench -i -s SCALE) and strongroom vs restic 0.14 on a generated tree.
#
# Setup (untimed): the cluster (tests/pg/pglib.sh, run as the unprivileged user srpg) with
# archive_command pushing each segment to both tools, a full backup with each (pgBackRest:
# process-max=2, compress-type=zst, compress-level=1; strongroom: defaults, a key file); the
# tree (gentree.py mixed) backed up by restic and strongroom.
# Then RUNS rounds. Each round first measures the disk under the work dir for the same byte count
# as the restores (bench/lib.sh disk_limits: dd of zeros buffered + fsync, and O_DIRECT), then
# restores the PostgreSQL backup with both tools and the tree with both tools, the order of the
# tools alternating from round to round (odd rounds: the peer first). Before every restore the
# page cache is dropped and the disk synced; a restore's time is its wall time plus a `sync` right
# after it (pgBackRest and strongroom sync before they exit, restic does not).
# The first round checks every restore: each restored cluster is started, recovers from its
# tool's archive and must give the original's count/sum of pgbench_accounts; each restored tree
# must equal the source (diff -r).
# The report lists every round and, per metric, the median and the spread (min-max) over the
# rounds; ratios and fractions of the disk's limit are computed within a round (never across
# rounds), then their median is taken. The disk's limit for a restore is the faster of dd's two
# ways of writing those bytes.
#
# --throttle-mibs N simulates a slower disk for the whole run (the same kind of virtual disk has
# been measured at ~340 MB/s with fsync on some days and ~1.4 GB/s on others): it sets the cgroup
# v1 blkio throttle of the root cgroup for the work dir's device to N MiB/s for writes (which
# limits writeback as well as direct I/O), and removes it at exit. Root and cgroup v1 blkio only.
#
# Usage: bench/bench_restore.sh [--scale N] [--tree-mib N] [--runs N] [--throttle-mibs N]
#                               [--only pg|files] [--sr-modes "M..."] [--workdir DIR]
#                               [--out FILE] [--keep]
#   --scale N          pgbench scale (default 100, ~1.5 GiB)
#   --tree-mib N       generated tree size (default 2048)
#   --runs N           rounds (default 3)
#   --throttle-mibs N  limit the disk's write rate for the run (see above)
#   --only pg|files    run one of the two comparisons
#   --sr-modes "M..."  strongroom's restore write modes to run in each round (default "buffered";
#                      "buffered direct" compares the two in the same run); targets use the first
#   --workdir DIR      parent of the fresh work dir (default /var/tmp)
#   --out FILE         markdown report (default bench/results-restore.md)
#   --keep             keep the work dir (logs are in WORK/logs)
# Env: STRONGROOM_BIN (default build/strongroom). Run as root (apt-get, drop_caches, runuser).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../tests/pg/pglib.sh
source "$PROJECT_DIR/tests/pg/pglib.sh"
trap pg_cleanup EXIT

SCALE=100
TREE_MIB=2048
RUNS=3
THROTTLE_MIBS=0
ONLY=""
SR_MODES="buffered"
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-restore.md
KEEP=0
while (($#)); do
    case $1 in
        --scale) SCALE=$2; shift 2 ;;
        --tree-mib) TREE_MIB=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --throttle-mibs) THROTTLE_MIBS=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --sr-modes) SR_MODES=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in SCALE TREE_MIB RUNS; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { v=${v,,}; die "--${v//_/-} needs a positive integer"; }
done
[[ $THROTTLE_MIBS =~ ^[0-9]+$ ]] || die "--throttle-mibs needs a non-negative integer"
[[ -z $ONLY || $ONLY == pg || $ONLY == files ]] || die "--only takes pg or files"
[[ $(id -u) -eq 0 ]] || die "run as root (apt-get, drop_caches, runuser to the server's user)"
DO_PG=1 DO_FILES=1
[[ $ONLY == files ]] && DO_PG=0
[[ $ONLY == pg ]] && DO_FILES=0
read -r -a MODES <<<"$SR_MODES"
((${#MODES[@]})) || die "--sr-modes needs at least one mode"
for m in "${MODES[@]}"; do [[ $m == buffered || $m == direct ]] || die "--sr-modes takes buffered and/or direct"; done
SR_TOOLS=()
for m in "${MODES[@]}"; do SR_TOOLS+=("sr_$m"); done

ensure_deps
if ((DO_PG)); then
    command -v pgbackrest >/dev/null || {
        log "installing pgbackrest"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbackrest >/dev/null ||
            die "apt-get install pgbackrest failed"
    }
    pg_install
fi

mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-restore.XXXXXX")
chmod 755 "$WORK"
THROTTLE_FILE=/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
DEV=$(mountpoint -d "$(df --output=target "$WORK" | tail -n 1)")
cleanup() {
    ((THROTTLE_MIBS)) && echo "$DEV 0" >"$THROTTLE_FILE" 2>/dev/null
    pg_cleanup
    if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"
LOGS=$WORK/logs
mkdir -p "$LOGS"
cp "$STRONGROOM_BIN" "$WORK/strongroom" # a rebuild during the run must not change the binary
chmod 755 "$WORK/strongroom"
SR_FACTS="$(sha256sum "$STRONGROOM_BIN" | cut -c1-12), built $(date -u -r "$STRONGROOM_BIN" +%Y-%m-%dT%H:%M:%SZ)"
STRONGROOM_BIN=$WORK/strongroom
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
chmod 644 "$WORK/password" # read by the server's user too (a throwaway password)
export RESTIC_PASSWORD_FILE=$WORK/password RESTIC_CACHE_DIR=$WORK/restic-cache
unset RESTIC_REPOSITORY STRONGROOM_REPOSITORY STRONGROOM_PASSWORD STRONGROOM_PASSWORD_FILE RESTIC_PASSWORD

if ((THROTTLE_MIBS)); then
    [[ -w $THROTTLE_FILE ]] || die "--throttle-mibs needs cgroup v1 blkio ($THROTTLE_FILE is not writable)"
    echo "$DEV $((THROTTLE_MIBS * 1048576))" >"$THROTTLE_FILE"
    log "disk writes on $DEV throttled to $THROTTLE_MIBS MiB/s for this run"
fi

declare -A R
sync_secs() { local t0; t0=$(date +%s.%N); sync; calc "$(date +%s.%N) - $t0"; }
# timed_restore KEY CMD...: drop caches, run CMD timed, then a timed sync; R[KEY] = total seconds
timed_restore() {
    local key=$1
    shift
    sync
    run_timed "$key" "$@"
    local s
    s=$(sync_secs)
    R[$key]=$(calc "$SECS + $s")
    R[$key.rss]=$RSS_MIB
    log "$key: $SECS s + sync $s s"
}
vals() { local p=$1 r out=(); for ((r = 1; r <= RUNS; r++)); do out+=("${R[$p.$r]}"); done; echo "${out[@]}"; }

# ---- PostgreSQL setup ----------------------------------------------------------------------
if ((DO_PG)); then
    PGU=$(pg_user)
    DATA=$WORK/pgdata
    mkdir -p "$WORK/sr-cache" "$WORK/sr-keys" "$WORK/pgbr/log" "$WORK/pgbr/lock" "$WORK/pgbr/spool" \
        "$WORK/repo-pgbr" "$WORK/repo-sr-pg"
    chown -R "$PGU" "$WORK/sr-cache" "$WORK/sr-keys" "$WORK/pgbr" "$WORK/repo-pgbr" "$WORK/repo-sr-pg"
    AS=(runuser -u "$PGU" -- env "STRONGROOM_CACHE_DIR=$WORK/sr-cache")
    PORT=$(pg_free_port)
    log "starting PostgreSQL 15 on port $PORT; pgbench -i -s $SCALE"
    pg_start "$DATA" "$PORT" "archive_command='/bin/true'"
    SOCK=$(pg_psql postgres "SHOW unix_socket_directories")
    CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
    pg_psql postgres "CREATE DATABASE bench"
    "$PGBIN/pgbench" -i -s "$SCALE" -q -h 127.0.0.1 -p "$PORT" -U postgres bench >"$LOGS/pgbench-init.log" 2>&1 ||
        { tail -n 20 "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }
    pg_checkpoint >/dev/null
    CONF=$WORK/pgbackrest.conf
    cat >"$CONF" <<EOF
[global]
repo1-path=$WORK/repo-pgbr
repo1-retention-full=99
process-max=2
compress-type=zst
compress-level=1
start-fast=y
log-path=$WORK/pgbr/log
lock-path=$WORK/pgbr/lock
spool-path=$WORK/pgbr/spool
log-level-console=info

[bench]
pg1-path=$DATA
pg1-port=$PORT
pg1-socket-path=$SOCK
pg1-user=postgres
EOF
    chmod 644 "$CONF"
    PGBR=(pgbackrest "--config=$CONF" --stanza=bench)
    SRKEY=$WORK/sr-keys/main.key
    SRPG=("$STRONGROOM_BIN")
    "${AS[@]}" "${PGBR[@]}" stanza-create >"$LOGS/stanza.log" 2>&1 || die "stanza-create failed"
    "${AS[@]}" "${SRPG[@]}" init --repo "$WORK/repo-sr-pg" --password-file "$WORK/password" >"$LOGS/sr-init.log" 2>&1 ||
        die "strongroom init failed"
    "${AS[@]}" env "STRONGROOM_PASSWORD_FILE=$WORK/password" "${SRPG[@]}" key add --repo "$WORK/repo-sr-pg" \
        --new-key-file "$SRKEY" >"$LOGS/sr-key.log" 2>&1 || die "strongroom key add failed"
    pg_psql postgres "ALTER SYSTEM SET archive_command = '$STRONGROOM_BIN wal-push --repo $WORK/repo-sr-pg --key-file $SRKEY %p && pgbackrest --config=$CONF --stanza=bench archive-push %p'"
    pg_psql postgres "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    "${AS[@]}" "${PGBR[@]}" --type=full backup >"$LOGS/backup-pgbr.log" 2>&1 || die "pgBackRest backup failed"
    "${AS[@]}" "${SRPG[@]}" backup --repo "$WORK/repo-sr-pg" --key-file "$SRKEY" --pg-data "$DATA" \
        --pg-conn "$CONN" --type full >"$LOGS/backup-sr-pg.log" 2>&1 || die "strongroom backup failed"
    PG_BYTES=$(du -sb --exclude=pg_wal "$DATA" | cut -f1)
    WANT=$(pg_psql bench "SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts")
fi

# ---- tree setup ----------------------------------------------------------------------------
if ((DO_FILES)); then
    log "generating a $TREE_MIB MiB tree"
    python3 "$BENCH_DIR/gentree.py" mixed "$WORK/tree" --size-mib "$TREE_MIB" --seed 1 >"$LOGS/gentree.log"
    TREE_BYTES=$(tree_bytes "$WORK/tree")
    export STRONGROOM_CACHE_DIR=$WORK/sr-cache-files
    restic init -r "$WORK/repo-restic" >"$LOGS/restic-init.log" 2>&1 || die "restic init failed"
    restic backup -r "$WORK/repo-restic" "$WORK/tree" >"$LOGS/restic-backup.log" 2>&1 || die "restic backup failed"
    "$STRONGROOM_BIN" init --repo "$WORK/repo-sr-files" --password-file "$WORK/password" >"$LOGS/sr-init-files.log" 2>&1 ||
        die "strongroom init failed"
    "$STRONGROOM_BIN" backup --repo "$WORK/repo-sr-files" --password-file "$WORK/password" --path "$WORK/tree" \
        >"$LOGS/sr-backup-files.log" 2>&1 || die "strongroom backup failed"
fi

# check_cluster TOOL DIR: start the restored cluster, wait for recovery, compare with the original
check_cluster() {
    local port got
    port=$(pg_free_port)
    pg_start_restored "$2" "$port" archive_mode=off >"$LOGS/start-$1.log" 2>&1 ||
        { cat "$LOGS/start-$1.log" >&2; die "$1: the restored cluster did not start"; }
    pg_wait_recovery_end "$port" 600 || die "$1: the restored cluster is still in recovery after 600 s"
    got=$(PGPORT=$port pg_psql bench "SELECT count(*) || ' ' || sum(abalance) FROM pgbench_accounts")
    pg_stop "$2" fast || true
    [[ $got == "$WANT" ]] || die "$1: restored cluster gives '$got', the original '$WANT'"
    log "$1: the restored cluster recovered and matches the original ($got)"
}

restore_pg() { # TOOL ROUND
    local dir=$WORK/restore-pg-$1
    rm -rf "$dir"
    mkdir "$dir" && chown "$PGU" "$dir" && chmod 700 "$dir"
    if [[ $1 == pgbr ]]; then
        timed_restore "pg.$1.$2" "${AS[@]}" "${PGBR[@]}" "--pg1-path=$dir" restore
    else
        timed_restore "pg.$1.$2" "${AS[@]}" "${SRPG[@]}" restore --repo "$WORK/repo-sr-pg" --key-file "$SRKEY" \
            --to "$dir" --write-mode "${1#sr_}"
    fi
    (($2 == 1)) && check_cluster "$1" "$dir"
    rm -rf "$dir"
}
restore_files() { # TOOL ROUND
    local dir=$WORK/restore-files-$1 restored
    rm -rf "$dir"
    mkdir "$dir"
    if [[ $1 == restic ]]; then
        timed_restore "files.$1.$2" restic restore latest -r "$WORK/repo-restic" --target "$dir"
        restored=$dir$WORK/tree # restic restores the absolute path beneath the target
    else
        timed_restore "files.$1.$2" "$STRONGROOM_BIN" restore --repo "$WORK/repo-sr-files" \
            --password-file "$WORK/password" --to "$dir" --write-mode "${1#sr_}"
        restored=$dir
    fi
    (($2 == 1)) && verify_restore "$1" "$WORK/tree" "$restored"
    rm -rf "$dir"
}

# limit_secs BYTES: seconds the disk needs for BYTES at the faster of its two measured limits
limit_secs() {
    calc "$1 / 1048576 / ($DISK_BUFFERED_MIBS > $DISK_DIRECT_MIBS ? $DISK_BUFFERED_MIBS : $DISK_DIRECT_MIBS)" %.3f
}

# round KIND PEER BYTES RESTORE-FN ROUND: the disk's limits for BYTES, then the peer and every
# strongroom mode restore (reversed order in even rounds); per tool its time over the peer's
# (PostgreSQL) or the peer's over its own (files: a throughput ratio), and over the limit.
round() {
    local k=$1 p=$2 bytes=$3 fn=$4 r=$5 t order
    disk_limits "$WORK" "$bytes"
    R[$k.dd_buf.$r]=$DISK_BUFFERED_MIBS R[$k.dd_direct.$r]=$DISK_DIRECT_MIBS R[$k.limit.$r]=$(limit_secs "$bytes")
    order=("$p" "${SR_TOOLS[@]}")
    ((r % 2)) || mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
    for t in "${order[@]}"; do "$fn" "$t" "$r"; done
    R[$k.order.$r]="${order[*]}"
    for t in "$p" "${SR_TOOLS[@]}"; do
        if [[ $k == pg ]]; then
            R[$k.${t}_ratio.$r]=$(calc "${R[$k.$t.$r]} / ${R[$k.$p.$r]}" %.3f)
        else
            R[$k.${t}_ratio.$r]=$(calc "${R[$k.$p.$r]} / ${R[$k.$t.$r]}" %.3f)
        fi
        R[$k.${t}_lim.$r]=$(calc "${R[$k.$t.$r]} / ${R[$k.limit.$r]}" %.3f)
    done
}
for ((r = 1; r <= RUNS; r++)); do
    if ((DO_PG)); then round pg pgbr "$PG_BYTES" restore_pg "$r"; fi
    if ((DO_FILES)); then round files restic "$TREE_BYTES" restore_files "$r"; fi
done

# ---- report --------------------------------------------------------------------------------
# The slow-disk target applies when the disk's limit, not strongroom's CPU, bounds a restore:
# below 600 MiB/s (the ~340 MB/s day) the target is <= 1.0x pgBackRest, above it <= 0.67x.
check() { # DESCRIPTION AWK-CONDITION MEASURED
    local verdict=FAIL
    [[ $(calc "($2) ? 1 : 0" %d) == 1 ]] && verdict=PASS
    printf -- '- **%s** %s (measured: %s)\n' "$verdict" "$1" "$3"
}
name_of() { case $1 in pgbr) echo pgBackRest ;; restic) echo restic ;; *) echo "strongroom ${1#sr_}" ;; esac; }
section() { # KIND PEER BYTES RATIO-LABEL
    local k=$1 p=$2 bytes=$3 rlabel=$4 r t m line
    local tools=("$p" "${SR_TOOLS[@]}")
    echo
    echo "### $([[ $k == pg ]] && echo "PostgreSQL restore, pgbench scale $SCALE" || echo "files restore, gentree.py mixed"): $(mib "$bytes") MiB written"
    echo
    echo "Seconds (restore + sync); in brackets: $rlabel; then the time over the disk's limit for those bytes."
    echo
    line="| round | order | disk: buffered+fsync MiB/s | disk: O_DIRECT MiB/s | disk limit s |"
    for t in "${tools[@]}"; do line+=" $(name_of "$t") |"; done
    echo "$line"
    echo "|---|---|---:|---:|---:|$(for t in "${tools[@]}"; do printf '%s' '---:|'; done)"
    for ((r = 1; r <= RUNS; r++)); do
        line="| $r | $(for t in ${R[$k.order.$r]}; do name_of "$t"; done | paste -sd, | sed 's/,/, /g') | ${R[$k.dd_buf.$r]} | ${R[$k.dd_direct.$r]} | ${R[$k.limit.$r]} |"
        for t in "${tools[@]}"; do line+=" ${R[$k.$t.$r]} [${R[$k.${t}_ratio.$r]}] ${R[$k.${t}_lim.$r]}x |"; done
        echo "$line"
    done
    # shellcheck disable=SC2046
    line="| median (spread) | | $(median $(vals "$k.dd_buf")) ($(spread $(vals "$k.dd_buf"))) | $(median $(vals "$k.dd_direct")) ($(spread $(vals "$k.dd_direct"))) | $(median $(vals "$k.limit")) ($(spread $(vals "$k.limit"))) |"
    for t in "${tools[@]}"; do
        # shellcheck disable=SC2046
        line+=" $(median $(vals "$k.$t")) ($(spread $(vals "$k.$t"))) [$(median $(vals "$k.${t}_ratio")) ($(spread $(vals "$k.${t}_ratio")))] $(median $(vals "$k.${t}_lim"))x ($(spread $(vals "$k.${t}_lim"))) |"
    done
    echo "$line"
    echo
    echo -n "Peak RSS MiB:"
    for t in "${tools[@]}"; do
        echo -n " $(name_of "$t") $(for ((r = 1; r <= RUNS; r++)); do echo "${R[$k.$t.$r.rss]}"; done | sort -g | tail -n 1);"
    done
    echo
}
report() {
    echo "## Restores against the disk's limit (bench/bench_restore.sh)"
    echo
    machine_facts "$WORK"
    echo "- strongroom binary: sha256 $SR_FACTS; restore write modes: ${MODES[*]} (targets: ${MODES[0]})"
    ((DO_PG)) && echo "- pgBackRest: $(pgbackrest version), process-max=2, compress-type=zst, compress-level=1, no encryption"
    if ((THROTTLE_MIBS)); then
        echo "- disk: writes throttled to $THROTTLE_MIBS MiB/s for the whole run (cgroup v1 blkio, root cgroup, $DEV)"
    else
        echo "- disk: as it is (no throttle)"
    fi
    echo "- $RUNS rounds; in each the disk's limits are measured for the bytes restored, then the tools restore in alternating order (odd rounds: the peer first), caches dropped and the disk synced before each; times include a \`sync\` after each restore; ratios and fractions are per round, then the median; the limit is the faster of dd's buffered+fsync and O_DIRECT for those bytes; round 1 checks every restore (cluster started and compared; tree diff -r)"
    if ((DO_PG)); then
        section pg pgbr "$PG_BYTES" "time / pgBackRest's"
        echo
        local ratio lim slow dd
        # shellcheck disable=SC2046
        ratio=$(median $(vals "pg.${SR_TOOLS[0]}_ratio")) lim=$(median $(vals "pg.${SR_TOOLS[0]}_lim")) dd=$(median $(vals pg.dd_buf))
        slow=$(calc "$dd < 600 ? 1 : 0" %d)
        if ((slow)); then
            check "PostgreSQL restore <= 1.0x pgBackRest's time on a slow disk (buffered limit $dd MiB/s < 600)" "$ratio <= 1.0" "${ratio}x"
        else
            check "PostgreSQL restore <= 0.67x pgBackRest's time on a fast disk (buffered limit $dd MiB/s >= 600)" "$ratio <= 0.67" "${ratio}x"
        fi
        check "PostgreSQL restore within 1.15x of the disk's limit for those bytes" "$lim <= 1.15" "${lim}x"
    fi
    if ((DO_FILES)); then
        section files restic "$TREE_BYTES" "throughput / restic's"
        echo
        local fr fl dd
        # shellcheck disable=SC2046
        fr=$(median $(vals "files.${SR_TOOLS[0]}_ratio")) fl=$(median $(vals "files.${SR_TOOLS[0]}_lim"))
        check "files restore throughput >= 1.5x restic's" "$fr >= 1.5" "${fr}x"
        dd=$(median $(vals files.dd_buf))
        if [[ $(calc "($dd < 600) ? 1 : 0" %d) == 1 ]]; then
            check "files restore within 1.15x of the disk's limit (the disk is the bottleneck: buffered limit $dd MiB/s < 600)" "$fl <= 1.15" "${fl}x"
        else
            echo "- (files restore against the disk's limit: ${fl}x; the target applies where the disk is the bottleneck, and at a buffered limit of $dd MiB/s the CPU is)"
        fi
    fi
}
report | tee "$OUT"
log "report written to $OUT"
