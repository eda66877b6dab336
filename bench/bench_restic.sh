#!/usr/bin/env bash
# strongroom vs restic 0.14 on the same generated tree, in the same run.
#
# Phases, each timed with /usr/bin/time (wall seconds, peak RSS) after dropping caches:
#   1. first backup of a fresh tree into an empty repository
#   2. change ~1% of the files (4 KiB overwritten in the middle) + add 2 small files,
#      second backup; bytes added = repository size after - before (du -sb)
#   3. restore of the latest backup into an empty dir, verified with diff -r
# Writes a markdown report (machine facts, results table, PASS/FAIL per target) to
# --out FILE and stdout.  Exit status: 0 when all tools ran and both restores are
# identical to the source (even if a performance target fails), 1 otherwise.
#
# Usage: bench/bench_restic.sh [--size-mib N] [--workdir DIR] [--out FILE]
#                              [--rss-scale] [--keep] [--seed N]
#   --size-mib N   tree size (default 2048)
#   --workdir DIR  where to put the tree, repositories and restores (a fresh
#                  subdirectory is made there; default: mktemp under /var/tmp)
#   --out FILE     markdown report (default bench/results-restic.md)
#   --rss-scale    also run bench/rss_scaling.sh (256 MiB/20k files vs 1 GiB/80k files)
#   --keep         keep the work dir (logs are in WORK/logs)
# Env: STRONGROOM_BIN (default build/strongroom).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MIB=2048
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-restic.md
RSS_SCALE=0
KEEP=0
SEED=1

while (($#)); do
    case $1 in
        --size-mib) SIZE_MIB=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --rss-scale) RSS_SCALE=1; shift ;;
        --keep) KEEP=1; shift ;;
        --seed) SEED=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $SIZE_MIB =~ ^[0-9]+$ && $SIZE_MIB -gt 0 ]] || die "--size-mib needs a positive integer"

ensure_deps
mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-bench.XXXXXX")
cleanup() { if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
LOGS=$WORK/logs
SRC=$WORK/tree
mkdir -p "$LOGS"
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
export RESTIC_PASSWORD_FILE=$WORK/password STRONGROOM_PASSWORD_FILE=$WORK/password
export RESTIC_CACHE_DIR=$WORK/restic-cache # restic's default local cache, kept inside WORK
unset RESTIC_REPOSITORY STRONGROOM_REPOSITORY STRONGROOM_PASSWORD RESTIC_PASSWORD

# ---- the tree --------------------------------------------------------------------------
log "generating ${SIZE_MIB} MiB tree in $SRC"
python3 "$BENCH_DIR/gentree.py" mixed "$SRC" --size-mib "$SIZE_MIB" --seed "$SEED" >"$LOGS/gen.log"
TREE_FILES=$(find "$SRC" -type f | wc -l)
TREE_BYTES=$(tree_bytes "$SRC")

# set_cmd TOOL ACTION REPO [TARGET]: put the tool's command line into CMD.
# restic stores the absolute path, so its restore lands in TARGET$SRC; strongroom
# restores a single directory's contents directly into TARGET (docs/user-guide.md).
set_cmd() {
    local tool=$1 action=$2 repo=$3 target=${4:-}
    case $tool.$action in
        restic.init) CMD=(restic init -r "$repo") ;;
        restic.backup) CMD=(restic backup -r "$repo" "$SRC") ;;
        restic.restore) CMD=(restic restore latest -r "$repo" --target "$target") ;;
        restic.restored) CMD=("$target$SRC") ;;
        strongroom.init) CMD=("$STRONGROOM_BIN" init --repo "$repo") ;;
        strongroom.backup) CMD=("$STRONGROOM_BIN" backup --repo "$repo" --path "$SRC") ;;
        strongroom.restore) CMD=("$STRONGROOM_BIN" restore --repo "$repo" --backup latest --to "$target") ;;
        strongroom.restored) CMD=("$target") ;;
    esac
}
TOOLS=(restic strongroom)

declare -A R # results: R[tool.metric]

for t in "${TOOLS[@]}"; do
    set_cmd "$t" init "$WORK/repo-$t"
    "${CMD[@]}" >"$LOGS/init-$t.log" 2>&1 || { cat "$LOGS/init-$t.log" >&2; die "$t init failed"; }
done

# ---- phase 1: first backup ---------------------------------------------------------------
for t in "${TOOLS[@]}"; do
    set_cmd "$t" backup "$WORK/repo-$t"
    run_timed "backup1-$t" "${CMD[@]}"
    R[$t.b1_s]=$SECS R[$t.b1_rss]=$RSS_MIB
    R[$t.repo1]=$(dir_bytes "$WORK/repo-$t")
done

# ---- phase 2: change ~1% of the files, second backup ---------------------------------------
python3 "$BENCH_DIR/gentree.py" modify "$SRC" --seed "$SEED" >"$LOGS/modify.log"
TREE2_BYTES=$(tree_bytes "$SRC")
for t in "${TOOLS[@]}"; do
    set_cmd "$t" backup "$WORK/repo-$t"
    run_timed "backup2-$t" "${CMD[@]}"
    R[$t.b2_s]=$SECS R[$t.b2_rss]=$RSS_MIB
    R[$t.repo2]=$(dir_bytes "$WORK/repo-$t")
done

# ---- phase 3: restore latest into an empty dir, verify -------------------------------------
disk_limits "$WORK" "$TREE2_BYTES"  # the disk's own limit for these bytes, in this run
for t in "${TOOLS[@]}"; do
    mkdir "$WORK/restore-$t"
    set_cmd "$t" restore "$WORK/repo-$t" "$WORK/restore-$t"
    run_timed "restore-$t" "${CMD[@]}"
    R[$t.rs_s]=$SECS R[$t.rs_rss]=$RSS_MIB
    set_cmd "$t" restored "$WORK/repo-$t" "$WORK/restore-$t"
    verify_restore "$t" "$SRC" "${CMD[0]}"
    rm -rf "$WORK/restore-$t"
done
"$STRONGROOM_BIN" backups --repo "$WORK/repo-strongroom" >"$LOGS/strongroom-backups.txt" 2>&1 || true

# ---- derived metrics ----------------------------------------------------------------------
for t in "${TOOLS[@]}"; do
    # guard against 0.00 s on tiny trees
    R[$t.b1_mibs]=$(calc "$TREE_BYTES / 1048576 / (${R[$t.b1_s]} > 0 ? ${R[$t.b1_s]} : 0.01)" %.1f)
    R[$t.rs_mibs]=$(calc "$TREE2_BYTES / 1048576 / (${R[$t.rs_s]} > 0 ? ${R[$t.rs_s]} : 0.01)" %.1f)
    R[$t.rs_disk]=$(calc "${R[$t.rs_mibs]} / $DISK_BUFFERED_MIBS")
    R[$t.added]=$((R[$t.repo2] - R[$t.repo1]))
    R[$t.added_mib]=$(mib "${R[$t.added]}")
    R[$t.added_pct]=$(calc "100 * ${R[$t.added]} / ${R[$t.repo1]}" %.2f)
    R[$t.b2_over_b1]=$(calc "${R[$t.b2_s]} / (${R[$t.b1_s]} > 0 ? ${R[$t.b1_s]} : 0.01)" %.3f)
    R[$t.repo1_mib]=$(mib "${R[$t.repo1]}")
    R[$t.rss_max]=$(printf '%s\n' "${R[$t.b1_rss]}" "${R[$t.b2_rss]}" "${R[$t.rs_rss]}" | sort -g | tail -n 1)
done

# row LABEL METRIC: one table line, ratio = strongroom / restic
row() {
    local a=${R[restic.$2]} b=${R[strongroom.$2]}
    printf '| %s | %s | %s | %s |\n' "$1" "$a" "$b" "$(calc "($a > 0) ? $b / $a : 0" %.2f)"
}
# check DESCRIPTION AWK-CONDITION MEASURED
check() {
    local verdict=FAIL
    [[ $(calc "($2) ? 1 : 0" %d) == 1 ]] && verdict=PASS
    printf -- '- **%s** %s (measured: %s)\n' "$verdict" "$1" "$3"
}
S() { echo "${R[strongroom.$1]}"; }
X() { echo "${R[restic.$1]}"; }

report() {
    echo "## strongroom vs restic ($(mib "$TREE_BYTES") MiB tree)"
    echo
    machine_facts "$WORK"
    echo "- cache: $CACHE_STATE"
    echo "- tree: $TREE_FILES files, $TREE_BYTES bytes, $(grep -o "[0-9]*% incompressible" "$LOGS/gen.log") (by bytes)"
    echo "- change before the second backup: $(cat "$LOGS/modify.log")"
    echo "- restic defaults: repository version 2, compression auto; strongroom defaults"
    echo "- disk, measured in this run for the restored bytes: ${DISK_BUFFERED_MIBS} MiB/s buffered + fsync, ${DISK_DIRECT_MIBS} MiB/s O_DIRECT (dd of zeros)"
    echo
    echo "| metric | restic | strongroom | ratio (strongroom/restic) |"
    echo "|---|---:|---:|---:|"
    row "first backup: seconds" b1_s
    row "first backup: MiB/s (tree bytes / seconds)" b1_mibs
    row "first backup: peak RSS MiB" b1_rss
    row "repo size after first backup (MiB)" repo1_mib
    row "second backup: seconds" b2_s
    row "second backup: seconds / first backup seconds" b2_over_b1
    row "second backup: MiB added to the repo" added_mib
    row "second backup: added, % of repo size after first" added_pct
    row "second backup: peak RSS MiB" b2_rss
    row "restore latest: seconds" rs_s
    row "restore latest: MiB/s" rs_mibs
    row "restore latest: fraction of the disk's buffered+fsync limit" rs_disk
    row "restore latest: peak RSS MiB" rs_rss
    echo
    echo "Targets:"
    echo
    check "first backup throughput >= 1.5x restic" \
        "$(S b1_mibs) >= 1.5 * $(X b1_mibs)" "$(calc "$(S b1_mibs) / $(X b1_mibs)")x"
    check "second backup adds <= 3% of the first backup's stored bytes" \
        "$(S added_pct) <= 3" "$(S added_pct)%"
    check "second backup takes <= 1/5 of the first backup's time" \
        "$(S b2_over_b1) <= 0.2" "$(S b2_over_b1)"
    check "restore throughput >= 1.5x restic" \
        "$(S rs_mibs) >= 1.5 * $(X rs_mibs)" "$(calc "$(S rs_mibs) / $(X rs_mibs)")x"
    check "peak RSS < 128 MiB in every strongroom phase" \
        "$(S rss_max) < 128" "max $(S rss_max) MiB"
    echo
    echo "Both restores were verified identical to the source tree (diff -r)."
}

report | tee "$OUT"

if ((RSS_SCALE)); then
    echo | tee -a "$OUT"
    "$BENCH_DIR/rss_scaling.sh" --workdir "$WORKDIR_PARENT" | tee -a "$OUT"
fi
log "report written to $OUT"
