#!/usr/bin/env bash
# docs/examples/strongroom.yaml, adapted to local paths (a local repository, the accounts
# source on a cluster of this test), drives the runbook's procedures end to end against real
# PostgreSQL: config check, archive_command and backup by source name, expire, prune, verify and
# restore-test.
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
pass
