#!/usr/bin/env bash
# Asynchronous archiving: a background pusher pushes .ready segments ahead of archive_command;
# a call waits for it (or pushes its own segment when no pusher runs), and the segment is spooled
# durably when the repository cannot take it. While the repository is unreachable archiving goes on (no failed
# archive_command, the spool grows); once it is back the spool drains, and a restore to the end
# of the WAL has every transfer.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
sr key add --repo "$REPO" --new-key-file "$T/host.key"
chown "$PGU" "$T/host.key"
chown -R "$PGU" "$REPO"
SPOOL=$T/spool
mkdir -p "$SPOOL" && chown "$PGU" "$SPOOL"
DATA=$T/pgdata
PORT=$(pg_free_port)
pg_start "$DATA" "$PORT" \
  "archive_command='$SR wal-push --repo $REPO --key-file $T/host.key --async-spool $SPOOL %p'"
CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
bank_init bank 100 >/dev/null
sr backup --repo "$REPO" --key-file "$T/host.key" --pg-data "$DATA" --pg-conn "$CONN" --type full

# With the repository there, nothing is spooled.
for i in 1 2; do
  pg_psql bank "INSERT INTO transfers(src, dst, amount) SELECT 1, 2, 0 FROM generate_series(1, 2000)" >/dev/null
  pg_switch_wal >/dev/null
done
sleep 1
[[ $(find "$SPOOL" -maxdepth 1 -name '0000000*' | wc -l) == 0 ]] || fail "segments spooled while the repository was there"
[[ $(pg_psql postgres "SELECT archived_count FROM pg_stat_archiver") -ge 2 ]] || fail "nothing archived"

# The repository goes away: archiving must go on into the spool.
mv "$REPO" "$T/repo-away"
for i in 1 2 3 4; do
  pg_psql bank "INSERT INTO transfers(src, dst, amount) SELECT 1, 2, 0 FROM generate_series(1, 2000)" >/dev/null
  pg_switch_wal >/dev/null
done
sleep 2
failed=$(pg_psql postgres "SELECT failed_count FROM pg_stat_archiver")
archived=$(pg_psql postgres "SELECT archived_count FROM pg_stat_archiver")
[[ $failed == 0 ]] || fail "archive_command failed $failed times while the repository was away"
spooled=$(find "$SPOOL" -maxdepth 1 -name '0000000*' | wc -l)
note "repository away: $archived archived, $spooled waiting in the spool"
((spooled >= 3)) || fail "expected the spool to hold the WAL archived while the repository was away ($spooled)"

# Back: the spool drains into the repository.
mv "$T/repo-away" "$REPO"
pg_switch_wal >/dev/null
for _ in $(seq 1 100); do
  [[ $(find "$SPOOL" -maxdepth 1 -name '0000000*' | wc -l) == 0 ]] && break
  sleep 0.3
done
[[ $(find "$SPOOL" -maxdepth 1 -name '0000000*' | wc -l) == 0 ]] || fail "the spool did not drain: $(tail -5 "$SPOOL/pusher.log")"
want=$(bank_ntransfers bank)
p2=$(pg_free_port)
sr restore --repo "$REPO" --key-file "$T/host.key" --to "$T/restored"
grep -q -- "--key-file" "$T/restored/postgresql.auto.conf" || fail "restore_command does not use the key file"
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
got=$(PGPORT=$p2 bank_ntransfers bank)
[[ $got == "$want" ]] || fail "restored $got transfers, the original has $want"
pass
