#!/usr/bin/env bash
# Does strongroom's peak RSS stay flat as the tree grows?
# Backs up (and restores) two trees of many small files -- by default 256 MiB in 20k
# files and 1 GiB in 80k files (same average file size) -- each into a fresh repository,
# and prints the peak RSS of both as markdown on stdout.
#
# Usage: bench/rss_scaling.sh [--workdir DIR] [--small-mib N] [--small-files K]
#                             [--large-mib N] [--large-files K] [--keep]
# Env: STRONGROOM_BIN (default build/strongroom).
# Exit 1 if strongroom fails or a restore differs from its source; a FAIL verdict alone exits 0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR_PARENT=/var/tmp
SMALL_MIB=256 SMALL_FILES=20000
LARGE_MIB=1024 LARGE_FILES=80000
KEEP=0
while (($#)); do
    case $1 in
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --small-mib) SMALL_MIB=$2; shift 2 ;;
        --small-files) SMALL_FILES=$2; shift 2 ;;
        --large-mib) LARGE_MIB=$2; shift 2 ;;
        --large-files) LARGE_FILES=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

ensure_deps
mkdir -p "$WORKDIR_PARENT"
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-rss.XXXXXX")
cleanup() { if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
LOGS=$WORK/logs
mkdir -p "$LOGS"
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
export STRONGROOM_PASSWORD_FILE=$WORK/password
unset STRONGROOM_REPOSITORY STRONGROOM_PASSWORD

declare -A R
for size in small large; do
    if [[ $size == small ]]; then mib=$SMALL_MIB files=$SMALL_FILES; else mib=$LARGE_MIB files=$LARGE_FILES; fi
    src=$WORK/tree-$size repo=$WORK/repo-$size
    log "generating $mib MiB in $files files"
    python3 "$BENCH_DIR/gentree.py" small "$src" --size-mib "$mib" --files "$files" >"$LOGS/gen-$size.log"
    "$STRONGROOM_BIN" init --repo "$repo" >"$LOGS/init-$size.log" 2>&1 ||
        { cat "$LOGS/init-$size.log" >&2; die "strongroom init failed"; }
    run_timed "backup-$size" "$STRONGROOM_BIN" backup --repo "$repo" --path "$src"
    R[$size.b_s]=$SECS R[$size.b_rss]=$RSS_MIB
    mkdir "$WORK/restore-$size"
    run_timed "restore-$size" "$STRONGROOM_BIN" restore --repo "$repo" --backup latest --to "$WORK/restore-$size"
    R[$size.r_s]=$SECS R[$size.r_rss]=$RSS_MIB
    verify_restore "strongroom-$size" "$src" "$WORK/restore-$size"
    R[$size.files]=$files R[$size.mib]=$(mib "$(tree_bytes "$src")")
    rm -rf "$src" "$repo" "$WORK/restore-$size" # keep disk use to one tree at a time
done

echo "### strongroom peak RSS vs tree size (many small files; $CACHE_STATE)"
echo
echo "| tree | files | backup s | backup peak RSS MiB | restore s | restore peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|"
for size in small large; do
    printf '| %s MiB | %s | %s | %s | %s | %s |\n' "${R[$size.mib]}" "${R[$size.files]}" \
        "${R[$size.b_s]}" "${R[$size.b_rss]}" "${R[$size.r_s]}" "${R[$size.r_rss]}"
done
echo
# "Flat" = the 4x larger tree needs at most 25% (+8 MiB slack) more memory, and stays < 128 MiB.
for phase in b r; do
    name=$([[ $phase == b ]] && echo backup || echo restore)
    small=${R[small.${phase}_rss]} large=${R[large.${phase}_rss]}
    verdict=FAIL
    [[ $(calc "($large <= 1.25 * $small + 8 && $large < 128) ? 1 : 0" %d) == 1 ]] && verdict=PASS
    echo "- **$verdict** $name peak RSS does not grow with the tree: $small MiB -> $large MiB" \
        "(x$(calc "$large / $small")), limit 1.25x + 8 MiB and < 128 MiB"
done
