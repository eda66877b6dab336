#!/usr/bin/env bash
# restore-test: a PostgreSQL source restored into a scratch cluster (run as the database's OS
# user), validated by its queries (literal comparisons and the live source), row counts, the RTO;
# a wrong expectation or a disagreeing source fails naming the query; nothing is left behind
# (no process, no scratch directory); results are stored. A files source is read back too.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
CFG=$T/strongroom.yaml
SCRATCH=$T/scratch
mkdir -p "$SCRATCH" "$T/etc"
gen_tree "$T/etc" 32
write_cfg() {  # write_cfg EXPECT_OF_COUNT EXTRA
  cat >"$CFG" <<YAML
repositories:
  primary: {url: $REPO, password_file: $STRONGROOM_PASSWORD_FILE}
sources:
  ledger:
    type: postgres
    kind: database
    pg_data: $DATA
    pg_conn: "host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
    rto: 10m
    validate:
      - name: accounts
        query: SELECT count(*) FROM accounts
        expect: "$1"
      - name: ledger at target
        query: SELECT count(*) FROM ledger WHERE created_at <= :target_time
        expect: source
$2
  etc:
    type: files
    kind: configuration
    paths: [$T/etc]
YAML
  chmod 644 "$CFG"
}
write_cfg "= 5000" ""
pg_start "$DATA" "$PORT" "archive_command='$SR wal-push --config $CFG --source ledger %p'"
pg_psql postgres "CREATE TABLE accounts AS SELECT g AS id FROM generate_series(1, 5000) g" >/dev/null
pg_psql postgres "CREATE TABLE ledger (id int, created_at timestamptz default clock_timestamp())" >/dev/null
pg_psql postgres "INSERT INTO ledger (id) SELECT g FROM generate_series(1, 2000) g" >/dev/null
pg_psql postgres "ANALYZE" >/dev/null
export STRONGROOM_CONFIG=$CFG
sr backup --source ledger
sr backup --source etc
pg_psql postgres "INSERT INTO ledger (id) SELECT g FROM generate_series(1, 500) g" >/dev/null
pg_switch_wal >/dev/null
sleep 2
procs_before=$(pgrep -c -f "postgres.*strongroom-restore-test" || true)

# --- a good backup, recovered to the latest WAL: passes; its result is stored.
sr restore-test --source ledger --scratch "$SCRATCH" --json
json 'print(d["passed"])' | grep -q True || fail "restore test failed: $(cat "$OUT" "$ERR")"
[[ $(json 'print([v["got"] for v in d["validations"] if v["name"] == "accounts"][0])') == 5000 ]] || fail "accounts count"
json 'print([v for v in d["validations"] if v["name"] == "ledger at target"][0]["source_value"])' | grep -q 2500 || fail "source value: $(cat "$OUT")"
json 'print(d["rto_met"] and d["rto_seconds"] > 0)' | grep -q True || fail "rto: $(cat "$OUT")"

# --- to the backup's end: the row counts against the backup's estimates are compared too.
sr restore-test --source ledger --scratch "$SCRATCH" --immediate --json
json 'print(d["passed"], any(v["name"].startswith("rows of postgres.public.accounts") and v["passed"] for v in d["validations"]))' | grep -q "True True" || fail "immediate: $(cat "$OUT")"
# The ledger at the backup's end had 2000 rows; the live source's count at that time agrees.
json 'print([v for v in d["validations"] if v["name"] == "ledger at target"][0]["got"])' | grep -q 2000 || fail "ledger at the backup's end: $(cat "$OUT")"

# --- a wrong expectation fails and names the query.
write_cfg "> 999999" ""
expect_exit 3 "$SR" restore-test --source ledger --scratch "$SCRATCH"
grep -q "FAIL   accounts: expected > 999999, got 5000" "$OUT" || fail "wrong expectation: $(cat "$OUT")"

write_cfg "= 5000" ""
# --- a random point in the window passes: the live source, which so far only had rows added
# with their real times, agrees at any point. (A point is reached when a later transaction is in
# the archived WAL, as on a live database: one commits here meanwhile.)
( for i in $(seq 1 40); do
    pg_psql postgres "CREATE TABLE IF NOT EXISTS ticks (t timestamptz); INSERT INTO ticks VALUES (now())" >/dev/null 2>&1
    pg_switch_wal >/dev/null
    sleep 0.25
  done ) &
ticker=$!
sleep 4  # a few seconds of archived history: the window to pick from
sr restore-test --source ledger --scratch "$SCRATCH" --random-point --seed 7 --json
wait "$ticker"
json 'print(d["target"], d["passed"])' | grep -q "time True" || fail "random point: $(cat "$OUT")"

# --- the live source disagrees (a row with an earlier time added there after the target): fails.
write_cfg "= 5000" ""
target=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1
pg_psql postgres "INSERT INTO ledger (id, created_at) VALUES (1, now() - interval '1 hour')" >/dev/null
pg_switch_wal >/dev/null
sleep 2
expect_exit 3 "$SR" restore-test --source ledger --scratch "$SCRATCH" --target-time "$target" --json
json 'print([v for v in d["validations"] if v["name"] == "ledger at target"][0]["passed"])' | grep -q False || fail "source disagreement not found: $(cat "$OUT")"


# --- nothing left behind: no scratch directory, no server of a scratch cluster.
[[ -z $(ls -A "$SCRATCH") ]] || fail "scratch left behind: $(ls "$SCRATCH")"
sleep 1
[[ $(pgrep -c -f "postgres.*strongroom-restore-test" || true) == "$procs_before" ]] || fail "a scratch server is still running: $(pgrep -af strongroom-restore-test)"

# --- a files source: restored and read back.
sr restore-test --source etc --scratch "$SCRATCH" --json
json 'print(d["passed"], d["files"] > 0)' | grep -q "True True" || fail "files source: $(cat "$OUT")"
[[ -z $(ls -A "$SCRATCH") ]] || fail "scratch left behind (files)"

# --- the stored results.
sr restore-test --list --json
[[ $(json 'print(len(d))') == 6 ]] || fail "expected 6 stored results: $(cat "$OUT")"
[[ $(json 'print(sum(1 for r in d if not r["passed"]))') == 2 ]] || fail "expected 2 failed results"
pass
