#!/usr/bin/env bash
# PostgreSQL page-level incrementals: after a change touching ~2% of the pages, an incr backup
# stores a small fraction of the full backup; page checksums are verified while reading (a
# healthy cluster gives no warning, a corrupted page is named with file and block); the incr
# restores to the same data.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT" \
  "archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
"$PGBIN/pgbench" -i -s 8 -q -h 127.0.0.1 -p "$PORT" -U postgres postgres >/dev/null 2>&1

sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full --json
full=$(json "print(d['id'])" "$OUT")
full_added=$(json "print(d['added_size'])" "$OUT")
if grep -q "checksum failure" "$ERR"; then fail "checksum failures on a healthy cluster: $(head -3 "$ERR")"; fi

# ~2% of the pages: new rows in a ledger table and 200 updates of random accounts.
pg_psql postgres "CREATE TABLE ledger AS SELECT g AS id, g % 1000 AS account, (g % 97) * 100 AS amount, now() AS at FROM generate_series(1, 20000) g" >/dev/null
pg_psql postgres "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid IN (SELECT (random() * 799999)::int + 1 FROM generate_series(1, 200))" >/dev/null
pg_psql postgres "CHECKPOINT" >/dev/null
sr backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type incr --json
incr_added=$(json "print(d['added_size'])" "$OUT")
note "full added $full_added bytes, incr added $incr_added bytes"
# At this small scale (100 MB of pgbench data compressing 15x) the changed pages, index pages,
# visibility/free-space maps and the block maps weigh more than at the benchmark's scale 100
# (bench/bench_pgbackrest.sh checks the issue's 5% there); a file-level incremental would store
# every touched 1 GiB segment again (about the full backup).
((incr_added * 100 <= full_added * 15)) || fail "incr stored $incr_added bytes, more than 15% of the full backup ($full_added)"

want=$(pg_psql postgres "SELECT count(*), sum(abalance) FROM pgbench_accounts")
pg_switch_wal >/dev/null
sleep 1
p2=$(pg_free_port)
sr restore --repo "$REPO" --to "$T/restored"
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
got=$(PGPORT=$p2 pg_psql postgres "SELECT count(*), sum(abalance) FROM pgbench_accounts")
[[ $got == "$want" ]] || fail "restored accounts '$got' != original '$want'"
[[ $(PGPORT=$p2 pg_psql postgres "SELECT count(*) FROM ledger") == 20000 ]] || fail "ledger rows missing"

# A corrupted page (not being rewritten) is reported with its file and block.
rel=$(pg_psql postgres "SELECT pg_relation_filepath('pgbench_branches')")
pg_stop "$DATA"
printf '\xde\xad\xbe\xef' | dd of="$DATA/$rel" bs=1 seek=4000 conv=notrunc status=none
pg_start "$DATA" "$PORT" \
  "archive_command='$SR wal-push --repo $REPO --password-file $STRONGROOM_PASSWORD_FILE %p'"
# The backup is saved, with a warning and exit code 8 (saved, but something needs attention).
expect_exit 8 "$SR" backup --repo "$REPO" --pg-data "$DATA" --pg-conn "$CONN" --type full
grep -q "page checksum failure in $DATA/$rel block 0" "$ERR" || fail "corrupt page not reported: $(cat "$ERR")"
pass
