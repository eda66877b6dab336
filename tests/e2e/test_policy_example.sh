#!/usr/bin/env bash
# docs/examples/strongroom.yaml, adapted to local paths (a local repository, the accounts
# source on a cluster of this test), drives the runbook's procedures end to end against real
# PostgreSQL: config check, archive_command and backup by source name, expire, prune, verify and
# restore-test; then `strongroom serve` on the same file (its server section pointed at this
# test's port, token and state directory): WAL streaming for accounts, a backup, replication to
# dr, verification and a restore test through the API, and what status and metrics say.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
CFG=$T/strongroom.yaml
python3 - "$SR_SOURCE_DIR/docs/examples/strongroom.yaml" "$CFG" "$REPO" "$STRONGROOM_PASSWORD_FILE" "$DATA" "$PORT" <<'PY'
import sys
src, dst, repo, pw, data, port = sys.argv[1:]
text = open(src).read()
head, rest = text.split("\nsources:\n", 1)
# The repositories: a local primary instead of S3 and Azure, and a local dr (the example's
# jobs.replicate names it; the CLI commands below do not use it).
head = head[:head.index("repositories:")] + (
    "repositories:\n  primary:\n    url: %s\n    password_file: %s\n"
    "  dr:\n    url: %s-dr\n    replicate_from: primary\n    password_file: %s\n" % (repo, pw, repo, pw))
# The accounts cluster is this test's.
i = rest.index("  accounts:\n")
j = rest.index("\n\n", i)
block = rest[i:j]
block = block.replace("pg_data: /var/lib/postgresql/15/accounts", "pg_data: " + data)
block = block.replace('pg_conn: "host=/run/postgresql port=5432 user=postgres dbname=postgres"',
                      'pg_conn: "host=127.0.0.1 port=%s user=postgres dbname=postgres"' % port)
assert data in block and port in block, block
open(dst, "w").write(head + "\nsources:\n" + rest[:i] + block + rest[j:])
PY
chmod 644 "$CFG"
export STRONGROOM_CONFIG=$CFG

sr config check
grep -q "accounts (postgres, database) -> primary, stanza accounts" "$OUT" || fail "config check: $(cat "$OUT")"

pg_start "$DATA" "$PORT" "archive_command='$SR wal-push --config $CFG --source accounts %p'"
pg_psql postgres "CREATE DATABASE accounts" >/dev/null
PGDATABASE=accounts pg_psql accounts "CREATE TABLE customers AS SELECT g AS id FROM generate_series(1, 300) g" >/dev/null
PGDATABASE=accounts pg_psql accounts "CREATE TABLE accounts (id int, created_at timestamptz DEFAULT clock_timestamp())" >/dev/null
PGDATABASE=accounts pg_psql accounts "INSERT INTO accounts (id) SELECT g FROM generate_series(1, 1000) g" >/dev/null

sr backup --source accounts --json
full=$(json 'print(d["id"])')
PGDATABASE=accounts pg_psql accounts "INSERT INTO accounts (id) SELECT g FROM generate_series(1, 100) g" >/dev/null
sr backup --source accounts --type diff --json
pg_switch_wal >/dev/null
sleep 2

# Retention keeps both (within 35 days); prune finds nothing of theirs to remove.
sr expire --source accounts --dry-run --json
[[ $(json 'print(d["removed"])') == 0 ]] || fail "expire would remove: $(cat "$OUT")"
sr expire
sr prune --grace 0 --json
[[ $(json 'print(d["dead_packs"], d["backups"], d["live_bytes"] > 0)') == "0 2 True" ]] || fail "prune: $(cat "$OUT")"

# verify: fresh and continuous; the configured 35-day PITR window is not there yet (the first
# backup is minutes old), and that is the one problem reported.
expect_exit 3 "$SR" verify --source accounts --json
[[ $(json 'print(len(d["problems"]))') == 1 ]] || fail "verify problems: $(cat "$OUT")"
json 'print(d["problems"][0])' | grep -q "shorter than the configured 35d" || fail "verify: $(cat "$OUT")"
json 'print(d["sources"][0]["fresh"], d["sources"][0]["wal_fresh"], d["sources"][0]["continuous"])' | grep -q "True True True" || fail "verify source: $(cat "$OUT")"

# restore-test: the runbook's monthly test, with the example's queries.
sr restore-test --source accounts --json
json 'print(d["passed"], len(d["validations"]))' | grep -q "True 3" || fail "restore-test: $(cat "$OUT")"
json 'print([v["source_value"] for v in d["validations"] if v["expect"] == "source"][0])' | grep -q 1100 || fail "source comparison: $(cat "$OUT")"

# --- The daemon on the same file.
API_PORT=$(free_port)
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/token")
TOKEN=$(cat "$T/token")
python3 - "$CFG" "$API_PORT" "$T" <<'PY'
import sys
cfg, port, t = sys.argv[1:]
text = open(cfg).read()
for old, new in [("listen: 127.0.0.1:8920", "listen: 127.0.0.1:" + port),
                 ("token_file: /etc/strongroom/api-token", "token_file: %s/token" % t),
                 ("state_dir: /var/lib/strongroom", "state_dir: %s/state" % t),
                 ("refresh_every: 60s", "refresh_every: 2s"),
                 ("shutdown_timeout: 5m", "shutdown_timeout: 30s")]:
    assert old in text, old
    text = text.replace(old, new)
open(cfg, "w").write(text)
PY
"$SR" serve --config "$CFG" >"$T/serve.out" 2>"$T/serve.log" &
SERVE=$!
PREV_TRAP=$(trap -p EXIT)
eval "set -- $PREV_TRAP"
# shellcheck disable=SC2064  # the earlier trap's text, expanded now
trap "kill -9 $SERVE 2>/dev/null || true; pkill -9 -f 'strongroom stream --config $CFG' || true; $3" EXIT
api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT$1"; }
run_job() {  # BODY: POST it, wait for the job to end, print its state
  local id s
  id=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1" \
    "http://127.0.0.1:$API_PORT/api/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 1200); do
    s=$(api "/api/jobs?limit=500" | python3 -c "import json,sys; print(next(j['state'] for j in json.load(sys.stdin)['jobs'] if j['id'] == $id))")
    [[ $s == ok || $s == failed || $s == cancelled ]] && break
    sleep 0.2
  done
  echo "$s"
}
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$API_PORT/readyz" >/dev/null && break; sleep 0.2; done
for _ in $(seq 100); do api /api/status | python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['sources'] if x['name']=='accounts'][0]; sys.exit(0 if s['streaming'] and s['streaming']['running'] else 1)" && break; sleep 0.2; done
api /api/status | python3 -c "import json,sys; s=[x for x in json.load(sys.stdin)['sources'] if x['name']=='accounts'][0]; assert s['streaming']['running'], s" ||
  fail "the example's accounts stream is not running: $(tail -20 "$T/serve.log")"
PGDATABASE=accounts pg_psql accounts "INSERT INTO accounts (id) SELECT g FROM generate_series(1, 10) g" >/dev/null
[[ $(run_job '{"job": "backup", "source": "accounts", "type": "diff"}') == ok ]] || fail "daemon backup: $(tail -20 "$T/serve.log")"
[[ $(run_job '{"job": "replicate"}') == ok ]] || fail "daemon replicate: $(tail -20 "$T/serve.log")"
[[ $(run_job '{"job": "restore-test", "source": "accounts"}') == ok ]] || fail "daemon restore-test: $(tail -20 "$T/serve.log")"
# verify fails on this fresh repository (the 35-day PITR window is not there yet): a failed job,
# and the verify_failed alert it raises.
[[ $(run_job '{"job": "verify"}') == failed ]] || fail "daemon verify should report the short PITR window"
sleep 3
api /api/status >"$T/status.json"
python3 - "$T/status.json" <<'PY' || fail "daemon status: $(cat "$T/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in d["sources"]}
a = s["accounts"]
assert a["last_backup"]["type"] == "diff" and a["restore_test"]["passed"], a
assert a["pitr_window"] and a["rpo_s"] is not None, a
assert "k8s-configmaps" in s and s["k8s-configmaps"]["next_run"]["job"] == "backup"
r = {x["name"]: x for x in d["repositories"]}
assert r["dr"]["replication_lag_s"] == 0 and r["dr"]["backups"] == r["primary"]["backups"], r
assert d["alerts"]["firing"] >= 1, d["alerts"]
PY
api /api/alerts | grep -q '"rule":"verify_failed"' || fail "no verify_failed alert: $(api /api/alerts)"
api /metrics | grep -q '^strongroom_stream_up{source="accounts",kind="database",repository="primary"} 1' || fail "metrics: stream"
kill -TERM "$SERVE"
for _ in $(seq 300); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.2; done
kill -0 "$SERVE" 2>/dev/null && fail "the daemon did not stop"
pass
