#!/usr/bin/env bash
# strongroom on each backend: local disk, Azure Blob (Azurite) and S3 (s3rver), on loopback, with
# the same generated tree, in the same run.
#
# For each backend: first backup of the tree into a new repository, then RUNS restores of it into
# an empty dir (the first verified with diff -r; the backends' order alternates from round to
# round), each timed with /usr/bin/time (wall seconds, peak RSS, the client's user + system CPU
# seconds) after dropping caches; the object servers' own CPU time over each phase is recorded
# too (from /proc/PID/stat), since on a 2-core machine they compete with strongroom for the CPU.
# Wall-clock ratios against local disk mostly measure the servers (one Node.js process each);
# the client's own cost is its CPU seconds per GiB restored, compared with a local restore's in
# the same round.
# Targets: backup and restore throughput to each object store >= 80% of local disk (issue 4);
# a restore from S3/Azure costs the client <= 1.3x the CPU per GiB of a local restore (issue 11;
# median of the per-round ratios).
#
# Usage: bench/bench_backends.sh [--size-mib N] [--runs N] [--workdir DIR] [--out FILE] [--keep]
#                                [--seed N]
#   --size-mib N   tree size (default 1024)
#   --runs N       restores per backend (default 3)
#   --out FILE     markdown report (default bench/results-backends.md)
# Env: STRONGROOM_BIN (default build/strongroom). The npm servers come from tests/servers
# (`npm ci --prefix tests/servers`, done here when missing). Run as root (drop_caches).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MIB=1024
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-backends.md
KEEP=0
SEED=1
RUNS=3
while (($#)); do
    case $1 in
        --size-mib) SIZE_MIB=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --seed) SEED=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x $STRONGROOM_BIN ]] || die "strongroom binary not found at $STRONGROOM_BIN"
[[ -x /usr/bin/time ]] || die "GNU time is missing (apt-get install time)"

mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-backends.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
# The servers' helpers (free ports, start/stop by PID, data dirs removed at exit).
T=$WORK
SR_SOURCE_DIR=$PROJECT_DIR
# shellcheck source=../tests/servers/servers.sh
source "$PROJECT_DIR/tests/servers/servers.sh"
cleanup() { servers_stop_all; if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

cp "$STRONGROOM_BIN" "$WORK/strongroom"
SR=$WORK/strongroom
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
export STRONGROOM_PASSWORD_FILE=$WORK/password STRONGROOM_CACHE_DIR=$WORK/cache
unset STRONGROOM_REPOSITORY STRONGROOM_PASSWORD

log "generating a ${SIZE_MIB} MiB tree"
python3 "$BENCH_DIR/gentree.py" mixed "$WORK/tree" --size-mib "$SIZE_MIB" --seed "$SEED" >"$LOGS/gentree.log"
TREE_BYTES=$(tree_bytes "$WORK/tree")

start_azurite "$WORK/azurite-data"
AZ_PID=${SERVER_PIDS[-1]}
start_s3rver "$WORK/s3rver-data"
S3_PID=${SERVER_PIDS[-1]}

# CPU seconds (user + system) a process has used so far.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

declare -A R
phase() { # NAME BACKEND SERVER_PID CMD...: timed, with the server's CPU seconds over the phase
    local name=$1 backend=$2 pid=$3; shift 3
    local before=0 after=0
    [[ $pid != - ]] && before=$(cpu_secs "$pid")
    run_timed "$name-$backend" "$@"
    [[ $pid != - ]] && after=$(cpu_secs "$pid")
    R[$backend.${name}_s]=$SECS
    R[$backend.${name}_rss]=$RSS_MIB
    R[$backend.${name}_mibs]=$(calc "$TREE_BYTES / 1048576 / $SECS" %.1f)
    R[$backend.${name}_server_cpu]=$(calc "$after - $before")
    R[$backend.${name}_cpu]=$CPU_SECS
    R[$backend.${name}_cpu_gib]=$(calc "$CPU_SECS / ($TREE_BYTES / 1073741824)" %.3f)
}
repo_of() { case $1 in local) echo "$WORK/repo-local" ;; azure) echo azure://bench/repo ;; s3) echo s3://bench/repo ;; esac; }
pid_of() { case $1 in local) echo - ;; azure) echo "$AZ_PID" ;; s3) echo "$S3_PID" ;; esac; }

BACKENDS=(local azure s3)
for backend in "${BACKENDS[@]}"; do
    repo=$(repo_of "$backend")
    "$SR" init --repo "$repo" >"$LOGS/init-$backend.log" 2>&1 || die "init on $backend failed"
    phase backup "$backend" "$(pid_of "$backend")" "$SR" backup --repo "$repo" --path "$WORK/tree"
done
for ((r = 1; r <= RUNS; r++)); do
    order=("${BACKENDS[@]}")
    ((r % 2)) || order=(s3 azure local)
    for backend in "${order[@]}"; do
        phase "restore$r" "$backend" "$(pid_of "$backend")" "$SR" restore --repo "$(repo_of "$backend")" \
            --to "$WORK/restore-$backend"
        ((r == 1)) && verify_restore "$backend" "$WORK/tree" "$WORK/restore-$backend"
        rm -rf "$WORK/restore-$backend"
    done
    for backend in azure s3; do
        R[$backend.cpu_ratio$r]=$(calc "${R[$backend.restore${r}_cpu]} / ${R[local.restore${r}_cpu]}" %.3f)
        R[$backend.mibs_ratio$r]=$(calc "${R[local.restore${r}_s]} / ${R[$backend.restore${r}_s]}" %.3f)
    done
done
# The first round's figures stand for "restore" in the table; the verdicts take the median of
# the per-round ratios.
for backend in "${BACKENDS[@]}"; do
    for m in s rss mibs server_cpu cpu cpu_gib; do R[$backend.restore_$m]=${R[$backend.restore1_$m]}; done
    vals=()
    for ((r = 1; r <= RUNS; r++)); do vals+=("${R[$backend.restore${r}_cpu_gib]}"); done
    R[$backend.restore_cpu_gib_med]="$(median "${vals[@]}") ($(spread "${vals[@]}"))"
done

{
    echo "## strongroom on local disk, Azurite and s3rver (bench/bench_backends.sh)"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- tree: $(mib "$TREE_BYTES") MiB (gentree.py mixed, seed $SEED): half incompressible, half text"
    echo "- servers on loopback: Azurite $(node -p "require('$PROJECT_DIR/tests/servers/node_modules/azurite/package.json').version" 2>/dev/null), s3rver $(node -p "require('$PROJECT_DIR/tests/servers/node_modules/s3rver/package.json').version" 2>/dev/null); caches dropped before each phase; restores verified with diff -r"
    echo
    echo "| metric | local | Azurite | s3rver |"
    echo "|---|---:|---:|---:|"
    for m in backup_s backup_mibs backup_rss backup_server_cpu backup_cpu restore_s restore_mibs restore_rss restore_server_cpu restore_cpu restore_cpu_gib_med; do
        echo "| $m | ${R[local.$m]} | ${R[azure.$m]} | ${R[s3.$m]} |"
    done
    echo
    for b in azure s3; do
        ratio=$(calc "${R[$b.backup_mibs]} / ${R[local.backup_mibs]}")
        verdict=FAIL
        awk "BEGIN { exit !($ratio >= 0.8) }" && verdict=PASS
        echo "- **$verdict** backup throughput to $b >= 80% of local disk (measured: ${ratio}x; the server used ${R[$b.backup_server_cpu]} CPU s over ${R[$b.backup_s]} s)"
        vals=()
        for ((r = 1; r <= RUNS; r++)); do vals+=("${R[$b.mibs_ratio$r]}"); done
        ratio=$(median "${vals[@]}")
        verdict=FAIL
        awk "BEGIN { exit !($ratio >= 0.8) }" && verdict=PASS
        echo "- **$verdict** restore throughput to $b >= 80% of local disk (measured: median ${ratio}x over $RUNS rounds, spread $(spread "${vals[@]}"); in round 1 the server used ${R[$b.restore_server_cpu]} CPU s over ${R[$b.restore_s]} s)"
        vals=()
        for ((r = 1; r <= RUNS; r++)); do vals+=("${R[$b.cpu_ratio$r]}"); done
        ratio=$(median "${vals[@]}")
        verdict=FAIL
        awk "BEGIN { exit !($ratio <= 1.3) }" && verdict=PASS
        echo "- **$verdict** a restore from $b costs the client <= 1.3x the CPU per GiB of a local restore (measured: median ${ratio}x over $RUNS rounds, spread $(spread "${vals[@]}"))"
    done
} | tee "$OUT"
