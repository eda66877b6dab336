# Shared helpers for bench/bench_restic.sh and bench/rss_scaling.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # globals set here are read by the sourcing scripts

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$BENCH_DIR/.." && pwd)
STRONGROOM_BIN=${STRONGROOM_BIN:-$PROJECT_DIR/build/strongroom}
CACHE_STATE="caches dropped before every timed phase"

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# Install restic and GNU time if they are missing (needs root).
ensure_deps() {
    local missing=()
    command -v restic >/dev/null || missing+=(restic)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v python3 >/dev/null || missing+=(python3)
    if ((${#missing[@]})); then
        [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root"
        log "installing ${missing[*]}"
        apt-get install -y "${missing[@]}" >/dev/null ||
            { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; } ||
            die "apt-get install ${missing[*]} failed"
    fi
    [[ -x $STRONGROOM_BIN ]] || die "strongroom binary not found at $STRONGROOM_BIN (build it first, or set STRONGROOM_BIN)"
}

# Drop the page cache so every phase reads from disk; if we cannot, say so in the report.
drop_caches() {
    sync
    if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
        CACHE_STATE="warm cache (could not write /proc/sys/vm/drop_caches)"
    fi
}

# run_timed NAME CMD [ARGS...]
# Drops caches, runs CMD under /usr/bin/time, output to $LOGS/NAME.log.
# Sets SECS (wall seconds), RSS_MIB (peak RSS) and CPU_SECS (user + system CPU seconds of CMD
# and its waited-for children). A failing command ends the script (exit 1).
run_timed() {
    local name=$1; shift
    drop_caches
    log "$name: $*"
    if ! /usr/bin/time -f '%e %M %U %S' -o "$LOGS/$name.time" "$@" >"$LOGS/$name.log" 2>&1; then
        echo "---- last lines of $LOGS/$name.log:" >&2
        tail -n 20 "$LOGS/$name.log" >&2
        die "$name failed: $(head -n 1 "$LOGS/$name.time")"
    fi
    local kib user sys
    read -r SECS kib user sys <"$LOGS/$name.time"
    RSS_MIB=$(calc "$kib / 1024")
    CPU_SECS=$(calc "$user + $sys")
}

# disk_limits DIR BYTES: what the disk under DIR writes, measured now for BYTES bytes (so each
# restore can be set against the machine of its own run): dd of zeros, buffered then one fsync
# (conv=fsync), and with O_DIRECT (oflag=direct, then fsync). Sets DISK_BUFFERED_MIBS and
# DISK_DIRECT_MIBS (MiB/s, the final fsync included).
disk_limits() {
    local f="$1/.disk-limit" count=$((($2 + 1048575) / 1048576)) t0 t1
    rm -f "$f"
    drop_caches
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$f" bs=1M count="$count" conv=fsync status=none
    t1=$(date +%s.%N)
    DISK_BUFFERED_MIBS=$(calc "$count / ($t1 - $t0)" %.1f)
    rm -f "$f"
    drop_caches
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$f" bs=1M count="$count" oflag=direct conv=fsync status=none
    t1=$(date +%s.%N)
    DISK_DIRECT_MIBS=$(calc "$count / ($t1 - $t0)" %.1f)
    rm -f "$f"
    log "disk limits for $count MiB: buffered+fsync $DISK_BUFFERED_MIBS MiB/s, direct $DISK_DIRECT_MIBS MiB/s"
}

# median VALUE... / spread VALUE...: the median ("%.3f") and "min-max" of numbers, for figures
# taken over several rounds of one run.
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }'; }

# calc EXPR [FORMAT]: floating-point arithmetic via awk (default 2 decimals).
calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }
# Sum of the file sizes in a tree (what a backup has to read).
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s }'; }
# Bytes a directory occupies (repository size).
dir_bytes() { du -sb "$1" | cut -f1; }
mib() { calc "$1 / 1048576"; }

# verify_restore TOOL SOURCE RESTORED: the restored tree must equal the source exactly.
verify_restore() {
    local tool=$1 src=$2 dst=$3
    [[ -d $dst ]] || die "$tool restore: $dst does not exist"
    if ! diff -r "$src" "$dst" >"$LOGS/diff-$tool.log" 2>&1; then
        head -n 20 "$LOGS/diff-$tool.log" >&2
        die "$tool restore differs from the source (see above; $(wc -l <"$LOGS/diff-$tool.log") diff lines)"
    fi
    log "$tool restore verified identical to the source"
}

# Markdown bullet list describing the machine and the work dir's filesystem.
machine_facts() {
    local dir=$1 sr_version
    sr_version=$("$STRONGROOM_BIN" --version 2>/dev/null | head -n 1) || sr_version=""
    [[ -n $sr_version ]] || sr_version="(no --version) commit $(git -C "$PROJECT_DIR" rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- kernel: $(uname -r)"
    echo "- work dir filesystem: $(df --output=fstype "$dir" | tail -n 1) ($(df --output=source "$dir" | tail -n 1))"
    echo "- restic: $(restic version)"
    echo "- strongroom: $sr_version"
}
