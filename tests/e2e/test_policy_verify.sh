#!/usr/bin/env bash
# verify with a configuration: freshness (backup age, WAL lag), WAL continuity and the PITR
# window per source, each problem naming the source and backups; prune keeps the WAL the oldest
# backup needs and removes what is older; the rotating --read-data-subset.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup
init_repo
chown -R "$PGU" "$REPO"
DATA=$T/pgdata
PORT=$(pg_free_port)
CFG=$T/strongroom.yaml
chmod 755 "$T"
write_cfg() {  # write_cfg EXTRA_SOURCE_LINES...
  cat >"$CFG" <<YAML
repositories:
  primary: {url: $REPO, password_file: $STRONGROOM_PASSWORD_FILE}
sources:
  accounts:
    type: postgres
    kind: database
    pg_data: $DATA
    pg_conn: "host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
    verify: {max_age: 25h, max_wal_lag: 10m}
    rpo: 5m
$(printf '    %s\n' "$@")
YAML
  chmod 644 "$CFG"
}
write_cfg "retention: {keep_last: 1}"
pg_start "$DATA" "$PORT" "archive_command='$SR wal-push --config $CFG --source accounts %p'"
pg_psql postgres "CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g" >/dev/null

export STRONGROOM_CONFIG=$CFG
sr backup --source accounts --json
first=$(json 'print(d["id"])')
for i in 1 2 3; do
  pg_psql postgres "INSERT INTO t SELECT g FROM generate_series(1, 1000) g" >/dev/null
  pg_switch_wal >/dev/null
done
sr backup --source accounts --json
second=$(json 'print(d["id"])')
pg_switch_wal >/dev/null
sleep 2

# --- all fresh and continuous.
sr verify --json
json 'print(d["ok"])' | grep -q True || fail "verify: $(cat "$OUT")"
json 'print(d["sources"][0]["pitr_window"]["start"] is not None and d["sources"][0]["continuous"])' | grep -q True || fail "window: $(cat "$OUT")"
sr verify
grep -q "^accounts .*database .*ok" "$OUT" || fail "table: $(cat "$OUT")"

# --- two days later: the backup is stale and the WAL lags; exit 3, both named.
expect_exit 3 "$SR" verify --now "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)"
grep -q "problem: source accounts: the newest backup, $second of .* over max_age 25h" "$OUT" || fail "stale: $(cat "$OUT")"
grep -q "problem: source accounts: the newest WAL was stored .* over the allowed 10m" "$OUT" || fail "WAL lag: $(cat "$OUT")"

# --- a configured PITR window longer than what the repository holds.
write_cfg "retention: {keep_last: 1, pitr_window: 35d}"
expect_exit 3 "$SR" verify --json
json 'print(d["problems"])' | grep -q "shorter than the configured 35d" || fail "window: $(cat "$OUT")"

# --- a WAL gap after the first backup: that backup cannot be recovered past it; named.
write_cfg "retention: {keep_last: 1}"
sr backups --json
first_start=$(X=$first json 'print([b for b in d if b["id"] == os.environ["X"]][0]["pg"]["start_wal"])')
# The segment after the first backup's start: complete segments only (24 hex digits).
gap=$(find "$REPO/wal" -type f | sort | awk -F/ -v s="$first_start" 'length($NF) == 24 && $NF > s' | head -1)
[[ -n $gap ]] || fail "no WAL to remove after $first_start: $(find "$REPO/wal" -type f | sort)"
mv "$gap" "$T/gap"
expect_exit 3 "$SR" verify --json
json 'print(d["problems"])' | grep -q "backup $first .* cannot be recovered past its WAL" || fail "gap: $(cat "$OUT")"
mv "$T/gap" "$gap"
sr verify

# --- expire keeps the second backup; prune removes the WAL below its start, verify holds.
sr expire
sr prune --grace 0 --json
[[ $(json 'print(d["wal_removed"])') -ge 2 ]] || fail "prune removed no WAL: $(cat "$OUT")"
sr verify --json
json 'print(d["ok"])' | grep -q True || fail "after prune: $(cat "$OUT")"
start=$(sr backups --json >/dev/null; json 'print(d[0]["pg"]["start_wal"])')
for f in $(find "$REPO/wal" -type f -name '0000000100000000000000??*' -printf '%f\n'); do
  [[ ${f:0:24} < $start ]] && fail "WAL $f below the oldest backup's start $start survived prune"
done
# --- prune beside a running wal-push loop (archive_command as WAL is written) and a backup:
# nothing is lost.
( for i in $(seq 1 25); do
    pg_psql postgres "INSERT INTO t SELECT g FROM generate_series(1, 200) g" >/dev/null
    pg_switch_wal >/dev/null
    sleep 0.2
  done ) &
loop=$!
"$SR" backup --source accounts --type incr >"$T/bg-backup.log" 2>&1 &
bgb=$!
for i in 1 2 3; do sr prune --grace 0 --lock-wait 120; done
wait "$loop"
wait "$bgb" || fail "the backup beside prune failed: $(cat "$T/bg-backup.log")"
pg_switch_wal >/dev/null
sleep 3
sr verify --read-data --json
json 'print(d["ok"])' | grep -q True || fail "after prune beside wal-push: $(cat "$OUT")"
want=$(pg_psql postgres "SELECT count(*) FROM t")
# A restore of the latest backup recovers everything that was archived.
p2=$(pg_free_port)
sr restore --source accounts --to "$T/restored"
pg_start_restored "$T/restored" "$p2" archive_mode=off
pg_wait_recovery_end "$p2" 120 || fail "recovery did not end"
[[ $(PGPORT=$p2 pg_psql postgres "SELECT count(*) FROM t") == "$want" ]] || fail "restored rows differ from the source ($want)"

# --- the rotating subset reads a slice; K/N slices together read everything.
sr verify --read-data-subset 1/2 --json
a=$(json 'print(d["bytes_read"])')
[[ $(json 'print(d["read_data_subset"])') == 1/2 ]] || fail "subset label"
sr verify --read-data-subset 2/2 --json
b=$(json 'print(d["bytes_read"])')
sr verify --read-data --json
[[ $((a + b)) == $(json 'print(d["bytes_read"])') ]] || fail "slices $a + $b do not add up to the whole"
sr verify --read-data-subset 50% --json
[[ $(json 'print(d["read_data_subset"])') =~ ^[12]/2$ ]] || fail "50% is not a slice of 2"
expect_exit 2 "$SR" verify --read-data-subset 3/2
pass
