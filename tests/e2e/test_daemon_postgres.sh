#!/usr/bin/env bash
# The daemon end to end against a real PostgreSQL (issue 13, "Done when"): `strongroom serve`
# with a configuration like the example's (local paths) backs up on schedule (a full, then a
# diff), keeps WAL streaming (restarted after it is killed), replicates to a second repository,
# verifies, runs a restore test; /api/status, /api/restore-tests, /api/repositories and
# /metrics show it; SIGTERM stops everything and the repository verifies.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DR=$T/dr
DATA=$T/pgdata
PGPORT_=$(pg_free_port)
PORT=$(free_port)
CFG=$T/strongroom.yaml
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/token")
TOKEN=$(cat "$T/token")
cat >"$CFG" <<YAML
repositories:
  primary: {url: $REPO, password_file: $STRONGROOM_PASSWORD_FILE, cost_per_gib_month: 0.023}
  dr: {url: $DR, password_file: $STRONGROOM_PASSWORD_FILE, replicate_from: primary, cost_per_gib_month: 0.045}
sources:
  accounts:
    type: postgres
    kind: database
    pg_data: $DATA
    pg_conn: "host=127.0.0.1 port=$PGPORT_ user=postgres dbname=postgres"
    schedules:
      - {type: full, cron: "* * * * *"}
    stream: true
    rpo: 5m
    rto: 10m
    validate:
      - {name: accounts, query: "SELECT count(*) FROM accounts", expect: "= 3000"}
server:
  listen: 127.0.0.1:$PORT
  token_file: $T/token
  state_dir: $T/state
  refresh_every: 2s
  shutdown_timeout: 20s
jobs:
  replicate: {cron: "0 0 1 1 *", to: dr}
  verify: {cron: "0 0 1 1 *"}
YAML
chmod 644 "$CFG"
pg_start "$DATA" "$PGPORT_" "archive_command='$SR wal-push --config $CFG --source accounts %p'"
pg_psql postgres "CREATE TABLE accounts AS SELECT g AS id FROM generate_series(1, 3000) g" >/dev/null

"$SR" serve --config "$CFG" >"$T/serve.out" 2>"$T/serve.log" &
SERVE=$!
# Stop the daemon (and its stream) first, then what lib.sh's trap does (PostgreSQL, $T).
stop_daemon() { kill -9 "$SERVE" 2>/dev/null || true; pkill -9 -f "strongroom stream --config $CFG" 2>/dev/null || true; }
PREV_TRAP=$(trap -p EXIT)
eval "set -- $PREV_TRAP"
# shellcheck disable=SC2064  # the old trap's text, expanded now
trap "rc=\$?; stop_daemon; $3; exit \$rc" EXIT
api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1"; }
post() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$PORT$1"; }
job_state() { api "/api/jobs?limit=200" | python3 -c "import json,sys; print(next((j['state'] for j in json.load(sys.stdin)['jobs'] if j['id'] == $1), 'none'))"; }
wait_job() {  # ID SECONDS: until it ends; prints its state
  local s
  for _ in $(seq $(($2 * 5))); do
    s=$(job_state "$1")
    [[ $s == ok || $s == failed || $s == cancelled ]] && { echo "$s"; return; }
    sleep 0.2
  done
  echo timeout
}
dump() { echo "--- serve.log"; tail -n 40 "$T/serve.log"; for f in "$T"/state/logs/*.log; do echo "--- $f"; tail -n 10 "$f"; done; }
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { dump; fail "the daemon did not become ready"; }

# --- the full backup on schedule (cron every minute: within 65 s).
for _ in $(seq 130); do
  api "/api/jobs?limit=50" | python3 -c "import json,sys; sys.exit(0 if any(j['trigger']=='schedule' and j['state']=='ok' and j['job']=='backup' for j in json.load(sys.stdin)['jobs']) else 1)" && break
  sleep 0.5
done
api "/api/jobs?limit=50" | python3 -c "import json,sys; sys.exit(0 if any(j['trigger']=='schedule' and j['state']=='ok' for j in json.load(sys.stdin)['jobs']) else 1)" ||
  { dump; fail "no scheduled backup ran"; }
note "scheduled full backup done"

# --- WAL streaming under the daemon: running, and restarted after it is killed.
for _ in $(seq 50); do api /api/status | grep -q '"running":true' && break; sleep 0.2; done
api /api/status | python3 -c "import json,sys; s=json.load(sys.stdin)['sources'][0]; assert s['streaming']['running'], s['streaming']" || { dump; fail "stream not running"; }
SPID=$(pgrep -f "strongroom stream --config $CFG" | head -n 1)
[[ -n $SPID ]] || { dump; fail "no stream process"; }
kill -9 "$SPID"
for _ in $(seq 60); do
  api /api/status | python3 -c "import json,sys; s=json.load(sys.stdin)['sources'][0]['streaming']; sys.exit(0 if s['running'] and s['restarts'] >= 1 else 1)" && break
  sleep 0.5
done
api /api/status | python3 -c "import json,sys; s=json.load(sys.stdin)['sources'][0]['streaming']; assert s['running'] and s['restarts'] >= 1, s" || { dump; fail "stream not restarted"; }
pg_psql postgres "INSERT INTO accounts SELECT g FROM generate_series(3001, 3100) g" >/dev/null
pg_psql postgres "DELETE FROM accounts WHERE id > 3000" >/dev/null
pg_switch_wal >/dev/null

# --- a diff backup, a restore test, replication and verification through the API.
ID=$(post /api/jobs '{"job": "backup", "source": "accounts", "type": "diff"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $(wait_job "$ID" 120) == ok ]] || { dump; fail "diff backup job $ID"; }
ID=$(post /api/jobs '{"job": "restore-test", "source": "accounts"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $(wait_job "$ID" 240) == ok ]] || { dump; fail "restore-test job $ID"; }
ID=$(post /api/jobs '{"job": "replicate"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $(wait_job "$ID" 120) == ok ]] || { dump; fail "replicate job $ID"; }
ID=$(post /api/jobs '{"job": "verify"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[[ $(wait_job "$ID" 120) == ok ]] || { dump; fail "verify job $ID"; }
sleep 3  # a refresh after the last job

# --- what the API and the metrics say.
api /api/status >"$T/status.json"
python3 - "$T/status.json" <<'PY' || { dump; fail "status: $(cat "$T/status.json")"; }
import json, sys
d = json.load(open(sys.argv[1]))
s = d["sources"][0]
assert s["name"] == "accounts" and s["type"] == "postgres", s
assert s["last_backup"]["type"] == "diff", s["last_backup"]
assert s["age_s"] < 300, s["age_s"]
assert s["restore_test"]["passed"] is True and s["restore_test"]["rto_s"] > 0, s["restore_test"]
assert s["restore_test"]["rto_target_s"] == 600
assert s["rpo_s"] is not None and s["rpo_s"] < 300, s["rpo_s"]
assert s["pitr_window"] is not None and s["pitr_window"]["seconds"] > 0, s["pitr_window"]
assert s["next_run"]["job"] == "backup", s["next_run"]
repos = {r["name"]: r for r in d["repositories"]}
assert repos["primary"]["backups"] == 2 and repos["primary"]["size_bytes"] > 0, repos
assert repos["dr"]["backups"] == 2 and repos["dr"]["replication_lag_s"] == 0, repos["dr"]
assert repos["dr"]["estimated_monthly_cost"] > 0
PY
api /api/restore-tests | python3 -c "import json,sys; t=json.load(sys.stdin)['restore_tests']; assert len(t) == 1 and t[0]['passed'] and t[0]['validations'], t" ||
  fail "restore tests: $(api /api/restore-tests)"
api /metrics >"$T/metrics.txt"
for series in 'strongroom_backup_last_status{source="accounts",kind="database",repository="primary",type="diff"} 1' \
              'strongroom_restore_test_last_status{source="accounts",kind="database",repository="primary"} 1' \
              'strongroom_replication_lag_seconds{repository="dr",from="primary"} 0' \
              'strongroom_stream_up{source="accounts",kind="database",repository="primary"} 1'; do
  grep -qF "$series" "$T/metrics.txt" || fail "metrics lack: $series"
done
grep -q '^strongroom_pitr_window_start_timestamp_seconds{source="accounts"' "$T/metrics.txt" || fail "no PITR window metric"
grep -q '^strongroom_rpo_seconds{source="accounts"' "$T/metrics.txt" || fail "no RPO metric"

# --- SIGTERM: everything stops (the stream too); the repository and the replica verify.
kill -TERM "$SERVE"
for _ in $(seq 150); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.2; done
kill -0 "$SERVE" 2>/dev/null && { dump; fail "the daemon did not stop"; }
wait "$SERVE" || fail "serve exited non-zero: $(tail -5 "$T/serve.log")"
pgrep -f "strongroom stream --config $CFG" >/dev/null && fail "a stream outlived the daemon"
sr verify --repo "$REPO"
sr verify --repo "$DR"
pg_stop "$DATA" fast
note "ok"
