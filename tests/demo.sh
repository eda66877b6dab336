#!/usr/bin/env bash
# The strongroom demo (./run demo): a repository in a temporary directory, a generated tree and a
# command's output backed up, files changed, backed up again, listed, restored, verified, with
# the figures printed at each step. Everything stays in a temporary directory removed at the end.
set -euo pipefail
SR=${1:-$(dirname "$0")/../build/strongroom}
SR=$(realpath "$SR")
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /var/tmp/strongroom-demo.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

SIZE_MIB=${DEMO_SIZE_MIB:-256}
printf 'demo-password-%s\n' "$RANDOM$RANDOM" > password
chmod 600 password
export STRONGROOM_PASSWORD_FILE=$WORK/password STRONGROOM_CACHE_DIR=$WORK/cache
export STRONGROOM_REPOSITORY=$WORK/repo

if [[ -t 1 ]]; then step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else step() { printf '\n== %s\n' "$*"; }; fi
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }

step "1. Generate a ${SIZE_MIB} MiB tree (half log-like text, half random data)"
python3 "$HERE/bench/gentree.py" mixed data --size-mib "$SIZE_MIB" --seed 7
mkdir -p data/config && printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: banking}\n' > data/config/app.yaml
ln -s app.yaml data/config/current.yaml

step "2. Create an encrypted repository"
"$SR" init

step "3. Back up the tree"
t0=$(now); "$SR" backup --path data --tag demo; t1=$(now)
first=$(secs "$t0" "$t1")

step "4. Back up a command's output (as for 'kubectl get configmaps -o yaml')"
"$SR" backup --command "printf 'apiVersion: v1\nitems:\n'; for i in \$(seq 1 2000); do printf '  - name: cm-%d\n    data: {key: value-%d}\n' \$i \$i; done" --name configmaps.yaml

step "5. Change about 1% of the files, then back up again (only changes are read and stored)"
python3 "$HERE/bench/gentree.py" modify data --seed 8
t0=$(now); "$SR" backup --path data --tag demo; t1=$(now)
second=$(secs "$t0" "$t1")

step "6. List the backups"
"$SR" backups

step "7. Restore the latest tree backup and compare it with the source"
tree_id=$("$SR" backups --json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin) if b["type"]=="files"][-1])')
t0=$(now); "$SR" restore --backup "$tree_id" --to restored; t1=$(now)
restore=$(secs "$t0" "$t1")
diff -r --no-dereference data restored && echo "restored tree is identical to the source"
"$SR" restore --backup "$("$SR" backups --json | python3 -c 'import json,sys; print([b["id"] for b in json.load(sys.stdin) if b["type"]=="command"][-1])')" --to configmaps.yaml
echo "restored command output (first lines of $(wc -l < configmaps.yaml)):"; head -4 configmaps.yaml

step "8. Verify the repository, reading and authenticating every chunk"
"$SR" verify --read-data

step "9. PostgreSQL: the four banking databases, a full backup while WAL streams, then point-in-time recovery"
source "$HERE/tests/pg/pglib.sh"
pg_cleanup_on_exit
pg_install >/dev/null
PGU=$(pg_user)
chmod 755 "$WORK"
chown "$PGU" "$WORK/password"
"$SR" key add --new-key-file "$WORK/host.key" >/dev/null   # machines open the repository with a key file
chown "$PGU" "$WORK/host.key"
chown -R "$PGU" "$WORK/repo"
PGDATA_DIR=$WORK/pgdata
PORT=$(pg_free_port)
pg_start "$PGDATA_DIR" "$PORT" "archive_command='$SR wal-push --repo $WORK/repo --key-file $WORK/host.key %p'"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
bank_create_all 500 >/dev/null
echo "databases: $(pg_psql postgres "SELECT string_agg(datname, ', ' ORDER BY datname) FROM pg_database WHERE datname IN ('accounts','transactions','payments','notifications')")"
setpriv --reuid="$PGU" --regid="$(id -g "$PGU")" --init-groups -- \
  "$SR" stream --repo "$WORK/repo" --key-file "$WORK/host.key" --pg-conn "$CONN" 2>"$WORK/stream.log" &
STREAM_PID=$!
pids=$(BANK_TPS=50 bank_workload_start_all 12 1)
sleep 2
"$SR" backup --pg-data "$PGDATA_DIR" --pg-conn "$CONN" --type full
sleep 3
TARGET=$(pg_now)
"$SR" mark demo-checkpoint --pg-conn "$CONN"
sleep 3
# shellcheck disable=SC2086
bank_workload_wait $pids >/dev/null || true
LAST_COMMIT=$(bank_last_commit_ts accounts)
want=$(bank_committed_upto accounts "$TARGET")
pg_stop "$PGDATA_DIR" immediate      # the primary is lost
sleep 2
kill -TERM "$STREAM_PID"; wait "$STREAM_PID" || true
echo "target: $TARGET (accounts had committed $want transfers [count max-id] by then)"

RPORT=$(pg_free_port)
chown "$PGU" "$WORK"
mkdir -p "$WORK/pg-restored" && chown "$PGU" "$WORK/pg-restored"
t0=$(now)
setpriv --reuid="$PGU" --regid="$(id -g "$PGU")" --init-groups -- env PGUSER=postgres \
  "$SR" restore --repo "$WORK/repo" --key-file "$WORK/host.key" --to "$WORK/pg-restored" --force \
  --target-time "$TARGET" --start --port "$RPORT"
t1=$(now)
got=$(PGPORT=$RPORT pg_psql accounts "SELECT count(*) || ' ' || coalesce(max(id),0) FROM transfers")
total=$(PGPORT=$RPORT bank_total accounts)
echo "restored accounts: $got transfers, money total $total (expected $(bank_expected_total accounts 2>/dev/null || echo 500000))"
[[ $got == "$want" ]] && echo "PITR check: exactly the transfers committed up to the target" || { echo "PITR check FAILED"; exit 1; }
setpriv --reuid="$PGU" --regid="$(id -g "$PGU")" --init-groups -- "$PGBIN/pg_ctl" -D "$WORK/pg-restored" -m fast stop >/dev/null
echo "RTO (files restored, WAL replayed to the target, server accepting connections): $(secs "$t0" "$t1") s"

step "10. PostgreSQL: recover everything after losing the primary (RPO)"
RPORT2=$(pg_free_port)
"$SR" restore --repo "$WORK/repo" --key-file "$WORK/host.key" --to "$WORK/pg-latest"
pg_start_restored "$WORK/pg-latest" "$RPORT2" archive_mode=off
pg_wait_recovery_end "$RPORT2" 120
RESTORED_LAST=$(PGPORT=$RPORT2 bank_last_commit_ts accounts)
echo "last commit before the crash:     $LAST_COMMIT"
echo "last commit after the restore:    $RESTORED_LAST"
python3 - "$LAST_COMMIT" "$RESTORED_LAST" <<'PY'
import sys, datetime as d
p = lambda s: d.datetime.fromisoformat(s.replace(' ', 'T'))
lost = (p(sys.argv[1]) - p(sys.argv[2])).total_seconds()
print(f"RPO (data lost in the crash):     {max(lost, 0):.3f} s  (WAL streamed continuously; target <= 1 s)")
PY

step "Summary"
"$SR" backups --json > backups.json
python3 - backups.json <<'PY'
import json, sys
b = [x for x in json.load(open(sys.argv[1])) if x["type"] == "files"]
first, second = b[0], b[-1]
mib = lambda n: n / 1048576
print("tree size               %9.1f MiB" % mib(first["size"]))
print("stored after backup 1   %9.1f MiB  (compression %.2fx)" % (mib(first["stored_size"]), first["size"] / max(first["stored_size"], 1)))
print("added by backup 2       %9.2f MiB  (%.2f%% of backup 1: deduplication)" % (mib(second["added_size"]), 100 * second["added_size"] / max(first["added_size"], 1)))
PY
du -sh repo | awk '{print "repository on disk      " $1}'
python3 - "$SIZE_MIB" "$first" "$second" "$restore" <<'PY'
import sys
size, first, second, restore = float(sys.argv[1]), *map(float, sys.argv[2:])
print(f"backup 1                {first:9.2f} s   ({size/first:.0f} MiB/s)")
print(f"backup 2                {second:9.2f} s   ({100*second/first:.0f}% of backup 1)")
print(f"restore                 {restore:9.2f} s   ({size/restore:.0f} MiB/s, synced to disk)")
PY
step "The daemon: schedules, API, metrics and the dashboard (strongroom serve)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' > token)
cat > strongroom.yaml <<YAML
repositories:
  primary: {url: $WORK/repo, password_file: $WORK/password, cost_per_gib_month: 0.023}
sources:
  data:
    type: files
    kind: volume
    paths: [$WORK/data]
    schedules: [{cron: "*/5 * * * *"}]
server:
  listen: 127.0.0.1:$PORT
  token_file: $WORK/token
  state_dir: $WORK/state
  refresh_every: 5s
YAML
"$SR" config check --config strongroom.yaml >/dev/null
"$SR" serve --config strongroom.yaml >serve.out 2>serve.log &
SERVE=$!
# The daemon stops first, then what the earlier trap does (PostgreSQL servers, $WORK).
PREV_TRAP=$(trap -p EXIT)
eval "set -- $PREV_TRAP"
# shellcheck disable=SC2064  # the earlier trap's text, expanded now
trap "kill $SERVE 2>/dev/null || true; wait $SERVE 2>/dev/null || true; $3" EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
"$SR" run-now --config strongroom.yaml --job backup --source data
for _ in $(seq 300); do
  "$SR" status --config strongroom.yaml --json 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin)["sources"][0]; sys.exit(0 if (s.get("last_job") or {}).get("state")=="ok" else 1)' && break
  sleep 0.2
done
"$SR" status --config strongroom.yaml
URL="http://127.0.0.1:$PORT/#token=$(cat token)"
echo
echo "dashboard:  $URL"
echo "metrics:    curl -H \"Authorization: Bearer \$(cat $WORK/token)\" http://127.0.0.1:$PORT/metrics"
if [[ -t 0 && -t 1 ]]; then
  echo "the daemon keeps running (a backup every 5 minutes); Ctrl-C stops it and removes the demo"
  trap 'kill -TERM $SERVE 2>/dev/null' INT
  wait $SERVE || true
fi
kill -TERM $SERVE 2>/dev/null || true
wait $SERVE 2>/dev/null || true

echo
echo "demo finished: the repository and all data were in $WORK (now removed)"
