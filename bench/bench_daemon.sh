#!/usr/bin/env bash
# The daemon under a year of the runbook's schedule (issue 13), in one run:
#
#   1. Catalog: a repository holding ~9,500 backups written by bench/tools/gen_history (a year
#      of: four PostgreSQL databases, full daily + diff three times a day; nine command sources
#      and a certificates directory daily). They are real manifests (encrypted envelopes) but
#      reference no data: a catalog for the API, not restorable backups.
#   2. `strongroom serve` on it: time until /readyz (the first catalog snapshot), RSS idle, CPU
#      used while idle for IDLE seconds (from /proc: no polling means ~0).
#   3. Load: ApacheBench (Debian's apache2-utils), 50 concurrent keep-alive clients for LOAD
#      seconds against /api/status, then /metrics; the 99th percentile of response times.
#   4. The dashboard's first render in headless Chromium (tests/e2e/browser/dashboard_check.mjs:
#      navigation start until every status row and both charts are drawn), ROUNDS times.
#   5. RSS of the daemon while it runs a backup job (a 1 GiB command source), sampled every
#      100 ms, and the job's own peak (a child process).
# Usage: bench/bench_daemon.sh [--idle S] [--load S] [--rounds N] [--out FILE] [--keep]
# Env: STRONGROOM_BIN (default build/strongroom), GEN_HISTORY (default build/gen_history).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IDLE=30
LOAD=20
ROUNDS=3
OUT=$BENCH_DIR/results-daemon.md
KEEP=0
while (($#)); do
    case $1 in
        --idle) IDLE=$2; shift 2 ;;
        --load) LOAD=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
GEN_HISTORY=${GEN_HISTORY:-$PROJECT_DIR/build/gen_history}
[[ -x $STRONGROOM_BIN && -x $GEN_HISTORY ]] || die "build first (./run build): $STRONGROOM_BIN, $GEN_HISTORY"
command -v ab >/dev/null || { log "installing apache2-utils"; apt-get install -y apache2-utils >/dev/null; }
command -v node >/dev/null || die "node is needed for the dashboard's render time (./run test installs it)"

WORK=$(mktemp -d /var/tmp/strongroom-bench-daemon.XXXXXX)
SERVE=""
cleanup() {
    [[ -n $SERVE ]] && kill "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
    if ((KEEP)); then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"
(umask 077 && echo "bench-$RANDOM$RANDOM" >password && head -c 24 /dev/urandom | base64 | tr -d '/+=' >token)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$(cat token)
"$STRONGROOM_BIN" init --repo "$WORK/repo" --password-file "$WORK/password" >/dev/null
python3 - "$WORK" "$PORT" <<'PY'
import sys
work, port = sys.argv[1], sys.argv[2]
out = ["repositories:", f"  primary: {{url: {work}/repo, password_file: {work}/password, cost_per_gib_month: 0.023}}", "sources:"]
for d in ["accounts", "transactions", "payments", "notifications"]:
    out.append(f"  {d}:\n    type: postgres\n    kind: database\n    pg_data: /var/lib/postgresql/15/{d}\n"
               f"    pg_conn: host=/run/postgresql\n    schedules:\n      - {{type: full, cron: '0 2 * * *'}}\n"
               f"      - {{type: diff, cron: '0 8,14,20 * * *'}}\n    rpo: 5m\n    rto: 4h\n"
               f"    retention: {{pitr_window: 35d, keep_within: 90d}}")
for c in ["k8s-configmaps", "k8s-secrets", "k8s-services", "k8s-ingress", "helm-values", "istio-config",
          "k8s-volumes", "terraform-state", "etcd-snapshot"]:
    out.append(f"  {c}: {{type: command, kind: configuration, command: 'echo {c}', schedules: [{{cron: '30 2 * * *'}}]}}")
out.append("  certificates: {type: files, kind: certificates, paths: [/etc/ssl/certs], schedules: [{cron: '0 3 * * *'}]}")
out.append("  bulk: {type: command, kind: volume, command: 'head -c 1073741824 /dev/urandom'}")
out.append(f"server: {{listen: '127.0.0.1:{port}', token_file: {work}/token, state_dir: {work}/state}}")
open(f"{work}/strongroom.yaml", "w").write("\n".join(out) + "\n")
PY
t0=$(date +%s.%N)
"$GEN_HISTORY" --repo "$WORK/repo" --password-file "$WORK/password" --config "$WORK/strongroom.yaml" >gen.log
t1=$(date +%s.%N)
BACKUPS=$(grep -o '[0-9]* backups' gen.log | cut -d' ' -f1)
log "catalog: $BACKUPS backups written in $(calc "$t1 - $t0") s"

drop_caches
t0=$(date +%s.%N)
"$STRONGROOM_BIN" serve --config "$WORK/strongroom.yaml" >serve.out 2>serve.log &
SERVE=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
t1=$(date +%s.%N)
READY=$(calc "$t1 - $t0")
log "ready after $READY s"
# One real job, so the dashboard's job list has a row.
"$STRONGROOM_BIN" run-now --config "$WORK/strongroom.yaml" --job backup --source k8s-configmaps >/dev/null
sleep 2

ticks() { awk '{ print $14 + $15 }' "/proc/$SERVE/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVE/status"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks)
sleep "$IDLE"
c1=$(ticks)
IDLE_CPU_PCT=$(calc "($c1 - $c0) / $HZ / $IDLE * 100" "%.3f")
IDLE_RSS=$(calc "$(rss_kib) / 1024")
log "idle: ${IDLE_CPU_PCT} % CPU over $IDLE s, RSS $IDLE_RSS MiB"

p99() { awk '/^  99%/ { print $2 }' "$1"; }
rps() { awk '/^Requests per second/ { print $4 }' "$1"; }
# ab counts an answer whose length differs from the first as failed (ages change the status's
# length): only connection, receive and exception failures, and non-2xx answers, count here.
failed() {
    local n
    n=$(awk '/^   \(Connect:/ { gsub(/[(),]/, ""); s += $2 + $4 + $8 } /^Non-2xx/ { s += $3 } END { print s + 0 }' "$1")
    echo "${n:-0}"
}
declare -A P99 RPS
for path in /api/status /metrics; do
    name=${path//\//_}
    ab -q -k -c 50 -t "$LOAD" -n 10000000 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" >"ab$name.txt" 2>&1 || true
    P99[$path]=$(p99 "ab$name.txt")
    RPS[$path]=$(rps "ab$name.txt")
    [[ $(failed "ab$name.txt") == 0 ]] || { cat "ab$name.txt" >&2; die "ab: failed requests on $path"; }
    log "$path: p99 ${P99[$path]} ms, ${RPS[$path]} requests/s"
done
LOAD_RSS=$(calc "$(awk '/^VmHWM/ { print $2 }' "/proc/$SERVE/status") / 1024")

RENDERS=()
for r in $(seq "$ROUNDS"); do
    node "$PROJECT_DIR/tests/e2e/browser/dashboard_check.mjs" --url "http://127.0.0.1:$PORT" --token "$TOKEN" \
        --screenshot "$WORK/dashboard-$r.png" --expect-source accounts --timing-out "$WORK/render-$r.txt" >"render-$r.log" 2>&1 ||
        { tail -5 "render-$r.log" >&2; die "dashboard check failed"; }
    RENDERS+=("$(cat "$WORK/render-$r.txt")")
    log "first render, round $r: ${RENDERS[-1]} ms"
done

# RSS while a 1 GiB backup runs.
"$STRONGROOM_BIN" run-now --config "$WORK/strongroom.yaml" --job backup --source bulk >/dev/null
MAX_RSS=0
CHILD_MAX=0
for _ in $(seq 600); do
    r=$(rss_kib); ((r > MAX_RSS)) && MAX_RSS=$r
    for c in $(pgrep -P "$SERVE" || true); do
        cr=$(awk '/^VmRSS/ { print $2 }' "/proc/$c/status" 2>/dev/null || echo 0)
        ((cr > CHILD_MAX)) && CHILD_MAX=$cr
    done
    curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/jobs?limit=1" | grep -q '"state":"running"\|"state":"queued"' || break
    sleep 0.1
done
JOB_RSS=$(calc "$MAX_RSS / 1024")
CHILD_RSS=$(calc "$CHILD_MAX / 1024")
log "during a backup job: daemon RSS <= $JOB_RSS MiB, the job itself $CHILD_RSS MiB"

{
    echo "# The daemon under a year of schedules"
    echo
    machine_facts "$WORK" | grep -v restic
    echo "- catalog: $BACKUPS backups (gen_history), one repository on local disk"
    echo "- load: ApacheBench $(ab -V | head -n 1 | awk '{ print $4, $5 }'), 50 concurrent keep-alive clients, $LOAD s per endpoint, on the same 2 cores as the daemon"
    echo
    echo "| | value | target |"
    echo "|---|---:|---:|"
    echo "| ready (first catalog snapshot), s | $READY | |"
    echo "| /api/status p99, ms (requests/s) | ${P99[/api/status]} (${RPS[/api/status]}) | <= 50 |"
    echo "| /metrics p99, ms (requests/s) | ${P99[/metrics]} (${RPS[/metrics]}) | <= 50 |"
    echo "| dashboard first render, ms (median of $ROUNDS, spread) | $(median "${RENDERS[@]}") ($(spread "${RENDERS[@]}")) | <= 1500 |"
    echo "| RSS idle, MiB | $IDLE_RSS | <= 128 |"
    echo "| RSS peak after the load, MiB | $LOAD_RSS | <= 128 |"
    echo "| RSS during a 1 GiB backup job, MiB (the job's own process) | $JOB_RSS ($CHILD_RSS) | <= 128 |"
    echo "| CPU while idle for $IDLE s, % of one core | $IDLE_CPU_PCT | ~0 |"
} >"$OUT"
cat "$OUT"
