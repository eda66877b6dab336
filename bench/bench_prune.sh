#!/usr/bin/env bash
# Retention and verification against restic 0.14, on the same history, in one run (issue 12).
#
#   1. History: a generated tree (gentree.py mixed), then HISTORY backups by each tool, with
#      ~5 % of the files changed between backups (gentree.py modify --fraction 0.05).
#   2. Expire + prune: strongroom `expire --prune --grace 0` (keep_last KEEP from a configuration
#      file; one run, as restic's) against restic `forget --keep-last KEEP --prune`, each on a fresh copy of the
#      history, ROUNDS rounds in alternating order, caches dropped; wall seconds, peak RSS and
#      the bytes each frees (du of the repository before and after).
#   3. Verify: strongroom `verify --read-data` against restic `check --read-data` on the pruned
#      repositories, ROUNDS alternating rounds; MiB/s of repository bytes read. The disk's read
#      limit for those bytes (dd of the repository's files, caches dropped) is measured in the
#      same run.
#   4. With --scale: the prune's peak RSS again on a history SCALE times longer (same tree),
#      for both tools: memory must not grow with the history.
# Medians and spreads over the rounds; every ratio is taken within this run.
#
# Usage: bench/bench_prune.sh [--size-mib N] [--history N] [--keep-last N] [--rounds N]
#                             [--scale N] [--max-unused S] [--workdir DIR] [--out FILE] [--keep]
#   defaults: --size-mib 2048 --history 30 --keep-last 10 --rounds 3 (no --scale); --max-unused
#   sets strongroom's prune.max_unused (default: strongroom's own, 10 %)
# Env: STRONGROOM_BIN (default build/strongroom).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MIB=2048
HISTORY=30
KEEP_LAST=10
MAX_UNUSED=""
ROUNDS=3
SCALE=0
WORKDIR_PARENT=/var/tmp
OUT=$BENCH_DIR/results-prune.md
KEEP=0
while (($#)); do
    case $1 in
        --size-mib) SIZE_MIB=$2; shift 2 ;;
        --history) HISTORY=$2; shift 2 ;;
        --keep-last) KEEP_LAST=$2; shift 2 ;;
        --max-unused) MAX_UNUSED=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --scale) SCALE=$2; shift 2 ;;
        --workdir) WORKDIR_PARENT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

ensure_deps
mkdir -p "$WORKDIR_PARENT" "$(dirname "$OUT")"
WORK=$(mktemp -d "$WORKDIR_PARENT/strongroom-bench-prune.XXXXXX")
cleanup() { if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
LOGS=$WORK/logs
SRC=$WORK/tree
mkdir -p "$LOGS"
echo "bench-password-$RANDOM$RANDOM" >"$WORK/password"
export RESTIC_PASSWORD_FILE=$WORK/password STRONGROOM_PASSWORD_FILE=$WORK/password
export RESTIC_CACHE_DIR=$WORK/restic-cache STRONGROOM_CACHE_DIR=$WORK/sr-cache
unset RESTIC_REPOSITORY STRONGROOM_REPOSITORY STRONGROOM_PASSWORD RESTIC_PASSWORD STRONGROOM_CONFIG

log "generating a ${SIZE_MIB} MiB tree"
python3 "$BENCH_DIR/gentree.py" mixed "$SRC" --size-mib "$SIZE_MIB" --seed 1 >"$LOGS/gen.log"

# history N DIR: N backups by each tool into DIR/repo-{strongroom,restic}, ~5 % of the files
# changed before each backup after the first (the same changes for both tools).
history() {
    local n=$1 dir=$2 i
    mkdir -p "$dir"
    "$STRONGROOM_BIN" init --repo "$dir/repo-strongroom" >/dev/null
    restic init -r "$dir/repo-restic" >/dev/null 2>&1
    for ((i = 1; i <= n; i++)); do
        ((i == 1)) || python3 "$BENCH_DIR/gentree.py" modify "$SRC" --fraction 0.05 --seed "$i" >/dev/null
        "$STRONGROOM_BIN" backup --repo "$dir/repo-strongroom" --path "$SRC" >/dev/null
        restic backup -q -r "$dir/repo-restic" "$SRC" >/dev/null
    done
    cat >"$dir/strongroom.yaml" <<YAML
repositories:
  primary: {url: $dir/repo-strongroom}
sources:
  tree: {type: files, kind: volume, paths: [$SRC], retention: {keep_last: $KEEP_LAST}}
YAML
    [[ -z $MAX_UNUSED ]] || printf 'prune: {max_unused: %s}\n' "$MAX_UNUSED" >>"$dir/strongroom.yaml"
}

# prune_round TOOL DIR NAME: expire + prune (or forget --prune) on a copy of DIR's repository.
# Sets SECS, RSS_MIB, FREED (bytes).
prune_round() {
    local tool=$1 dir=$2 name=$3 copy=$WORK/copy-$1 before after
    rm -rf "$copy"
    cp -a "$dir/repo-$tool" "$copy"
    rm -rf "$STRONGROOM_CACHE_DIR" "$RESTIC_CACHE_DIR"  # the same cold client for each round
    before=$(dir_bytes "$copy")
    if [[ $tool == strongroom ]]; then
        sed "s|$dir/repo-strongroom|$copy|" "$dir/strongroom.yaml" >"$WORK/copy.yaml"
        run_timed "$name" "$STRONGROOM_BIN" expire --config "$WORK/copy.yaml" --prune --grace 0
    else
        run_timed "$name" restic forget -r "$copy" --keep-last "$KEEP_LAST" --prune
    fi
    after=$(dir_bytes "$copy")
    FREED=$((before - after))
}

declare -A R
log "history: $HISTORY backups by each tool"
history "$HISTORY" "$WORK/h1"
R[sr.repo]=$(dir_bytes "$WORK/h1/repo-strongroom")
R[rs.repo]=$(dir_bytes "$WORK/h1/repo-restic")

declare -a SR_S RS_S SR_RSS RS_RSS SR_FREED RS_FREED
for ((r = 1; r <= ROUNDS; r++)); do
    order=(strongroom restic)
    ((r % 2 == 0)) && order=(restic strongroom)
    for t in "${order[@]}"; do
        prune_round "$t" "$WORK/h1" "prune-$t-$r"
        if [[ $t == strongroom ]]; then
            SR_S+=("$SECS") SR_RSS+=("$RSS_MIB") SR_FREED+=("$FREED")
        else
            RS_S+=("$SECS") RS_RSS+=("$RSS_MIB") RS_FREED+=("$FREED")
        fi
        log "round $r $t: ${SECS} s, ${RSS_MIB} MiB RSS, freed $(mib "$FREED") MiB"
    done
done
# The pruned copies of the last round stay for the verification; check strongroom's restores.
"$STRONGROOM_BIN" verify --repo "$WORK/copy-strongroom" >"$LOGS/verify-after-prune.log" 2>&1 ||
    die "strongroom verify failed after prune: $(tail -n 3 "$LOGS/verify-after-prune.log")"

# ---- verify --read-data vs check --read-data ----------------------------------------------
read_limit() {  # the disk's sequential read rate for the repository's bytes, caches dropped
    local t0 t1 bytes
    bytes=$(dir_bytes "$1")
    drop_caches
    t0=$(date +%s.%N)
    find "$1" -type f -print0 | xargs -0 cat >/dev/null
    t1=$(date +%s.%N)
    calc "$bytes / 1048576 / ($t1 - $t0)" %.1f
}
declare -a SR_V RS_V DISK_R
for ((r = 1; r <= ROUNDS; r++)); do
    DISK_R+=("$(read_limit "$WORK/copy-strongroom")")
    order=(strongroom restic)
    ((r % 2 == 0)) && order=(restic strongroom)
    for t in "${order[@]}"; do
        bytes=$(dir_bytes "$WORK/copy-$t")
        if [[ $t == strongroom ]]; then
            rm -rf "$STRONGROOM_CACHE_DIR"
            run_timed "verify-$t-$r" "$STRONGROOM_BIN" verify --repo "$WORK/copy-$t" --read-data
            SR_V+=("$(calc "$bytes / 1048576 / $SECS" %.1f)")
        else
            rm -rf "$RESTIC_CACHE_DIR"
            run_timed "verify-$t-$r" restic check -r "$WORK/copy-$t" --read-data
            RS_V+=("$(calc "$bytes / 1048576 / $SECS" %.1f)")
        fi
    done
done

# ---- memory against history length -------------------------------------------------------
if ((SCALE > 1)); then
    log "history x$SCALE: $((HISTORY * SCALE)) backups by each tool"
    history "$((HISTORY * SCALE))" "$WORK/h4"
    prune_round strongroom "$WORK/h4" prune-scaled-strongroom
    R[sr.rss_scaled]=$RSS_MIB
    prune_round restic "$WORK/h4" prune-scaled-restic
    R[rs.rss_scaled]=$RSS_MIB
fi

# ---- report ---------------------------------------------------------------------------------
sr_s=$(median "${SR_S[@]}") rs_s=$(median "${RS_S[@]}")
sr_rss=$(printf '%s\n' "${SR_RSS[@]}" | sort -g | tail -n 1) rs_rss=$(printf '%s\n' "${RS_RSS[@]}" | sort -g | tail -n 1)
sr_freed=$(median "${SR_FREED[@]}") rs_freed=$(median "${RS_FREED[@]}")
sr_v=$(median "${SR_V[@]}") rs_v=$(median "${RS_V[@]}") disk_r=$(median "${DISK_R[@]}")
ratio_s=$(calc "$sr_s / $rs_s" %.2f)
ratio_v=$(calc "$sr_v / $rs_v" %.2f)
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
{
    echo "# Retention: expire + prune and verify --read-data, strongroom vs restic"
    echo
    machine_facts "$WORK"
    echo "- tree: ${SIZE_MIB} MiB (gentree mixed), $HISTORY backups, ~5 % of files changed between backups, keep last $KEEP_LAST"
    echo "- repositories after the history: strongroom $(mib "${R[sr.repo]}") MiB, restic $(mib "${R[rs.repo]}") MiB"
    echo "- $ROUNDS rounds, alternating order, each on a fresh copy, $CACHE_STATE; medians (spread)"
    echo
    echo "| | restic | strongroom | ratio |"
    echo "|---|---:|---:|---:|"
    echo "| expire + prune, s | $rs_s ($(spread "${RS_S[@]}")) | $sr_s ($(spread "${SR_S[@]}")) | $ratio_s |"
    echo "| freed, MiB | $(mib "$rs_freed") | $(mib "$sr_freed") | $(calc "$sr_freed / ($rs_freed > 0 ? $rs_freed : 1)" %.2f) |"
    echo "| peak RSS of prune, MiB | $rs_rss | $sr_rss | |"
    echo "| verify/check --read-data, MiB/s | $rs_v ($(spread "${RS_V[@]}")) | $sr_v ($(spread "${SR_V[@]}")) | $ratio_v |"
    echo "| disk read limit, MiB/s (same run) | | $disk_r ($(spread "${DISK_R[@]}")) | |"
    if ((SCALE > 1)); then
        echo "| peak RSS, history x$SCALE, MiB | ${R[rs.rss_scaled]} | ${R[sr.rss_scaled]} | |"
    fi
    echo
    echo "Targets:"
    echo "- expire + prune <= 0.5x restic: $ratio_s — $(verdict "$ratio_s <= 0.5")"
    echo "- frees at least as much as restic: $(verdict "$sr_freed >= $rs_freed")"
    echo "- peak RSS of prune <= 128 MiB: $sr_rss — $(verdict "$sr_rss <= 128")"
    if ((SCALE > 1)); then
        echo "- RSS with a ${SCALE}x history within 10 %: ${R[sr.rss_scaled]} vs $sr_rss — $(verdict "${R[sr.rss_scaled]} <= $sr_rss * 1.1")"
    fi
    echo "- verify --read-data >= 1.5x restic's check --read-data: $ratio_v — $(verdict "$ratio_v >= 1.5")"
} | tee "$OUT"
