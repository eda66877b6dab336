#!/usr/bin/env bash
# WAL streaming: `strongroom stream` on a replication slot while clients commit one row at a time
# and record every acknowledged commit. The server is then killed (pg_ctl stop -m immediate).
#  - synchronous (synchronous_standby_names = 'strongroom'): every acknowledged commit is in the
#    repository: a restore to the end of the WAL has all of them (RPO = 0);
#  - asynchronous: the restore has every commit acknowledged more than 1 s before the kill.
# Also: a restart of the server while streaming leaves no gap.
source "$(dirname "$0")/lib.sh"
pg_e2e_setup

run_case() { # MODE (sync|async)
  local mode=$1 repo=$T/repo-$1 data=$T/pg-$1 port conn spid wpid acked killed_at
  sr init --repo "$repo"
  chown -R "$PGU" "$repo"
  port=$(pg_free_port)
  local extra=()
  [[ $mode == sync ]] && extra+=("synchronous_standby_names='strongroom'")
  pg_start "$data" "$port" "archive_command='$SR wal-push --repo $repo --password-file $STRONGROOM_PASSWORD_FILE %p'" "${extra[@]}"
  conn="host=127.0.0.1 port=$port user=postgres dbname=postgres"
  local flag=()
  [[ $mode == sync ]] && flag=(--synchronous)
  # As the server's OS user, like archive_command: the repository stays writable for both.
  setpriv --reuid="$PGU" --regid="$(id -g "$PGU")" --init-groups -- "$SR" stream --repo "$repo" --password-file "$STRONGROOM_PASSWORD_FILE" \
    --pg-conn "$conn" "${flag[@]}" 2>"$T/stream-$mode.log" &
  spid=$!
  # With synchronous_standby_names every commit waits for the streamer: it must run first.
  timeout 30 psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE TABLE commits(id bigint primary key, at timestamptz default clock_timestamp())" >/dev/null ||
    fail "$mode: the first commit was not acknowledged: $(cat "$T/stream-$mode.log")"
  sr backup --repo "$repo" --pg-data "$data" --pg-conn "$conn" --type full
  # The writer: one autocommit insert per statement; each acknowledged id goes to a file.
  (
    for i in $(seq 1 100000); do
      psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "INSERT INTO commits(id) VALUES ($i)" >/dev/null 2>&1 || exit 0
      echo "$i $(date +%s.%N)" >>"$T/acked-$mode"
    done
  ) &
  wpid=$!
  sleep 6
  # A server restart mid-stream: streaming resumes without a gap.
  [[ $mode == async ]] && { pg_stop "$data" fast; pg_start "$data" "$port"; sleep 3; }
  killed_at=$(date +%s.%N)
  pg_stop "$data" immediate
  wait "$wpid" || true
  sleep 2
  kill -TERM "$spid"; wait "$spid" || fail "stream exited with an error: $(tail -5 "$T/stream-$mode.log")"
  acked=$(tail -n 1 "$T/acked-$mode" | cut -d' ' -f1)
  note "$mode: $acked commits acknowledged"
  ((acked > 20)) || fail "$mode: too few commits ($acked) to judge"
  local p2 got
  p2=$(pg_free_port)
  sr restore --repo "$repo" --to "$T/restored-$mode"
  pg_start_restored "$T/restored-$mode" "$p2" archive_mode=off synchronous_standby_names=
  pg_wait_recovery_end "$p2" 120 || fail "$mode: recovery did not end"
  got=$(PGPORT=$p2 pg_psql postgres "SELECT coalesce(max(id), 0) FROM commits")
  local n
  n=$(PGPORT=$p2 pg_psql postgres "SELECT count(*) FROM commits")
  [[ $n == "$got" ]] || fail "$mode: restored commits are not a prefix ($n rows, max $got)"
  if [[ $mode == sync ]]; then
    ((got >= acked)) || fail "sync: acknowledged commit $acked is missing (restored up to $got): RPO > 0"
  else
    # Every commit acknowledged more than 1 s before the kill must be there.
    local need
    need=$(awk -v k="$killed_at" '$2 <= k - 1.0 {m = $1} END {print m + 0}' "$T/acked-$mode")
    ((got >= need)) || fail "async: commit $need (acknowledged > 1 s before the kill) missing; restored up to $got"
    note "async: restored $got of $acked acknowledged commits (RPO within 1 s)"
  fi
  grep -q "durable to" "$T/stream-$mode.log" || true
}

run_case sync
run_case async
pass
