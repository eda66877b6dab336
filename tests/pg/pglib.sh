# PostgreSQL 15 test harness for strongroom.  Source this file; do not run it.
# shellcheck shell=bash
# Safe under `set -euo pipefail`; it does not change the caller's shell options
# or traps (use `pg_cleanup_on_exit` or call `pg_cleanup` from your own trap).
#
# Servers run as an unprivileged OS user (PostgreSQL refuses to run as root);
# everything else (psql, pgbench, pg_basebackup, strongroom) runs as the caller.
# Clients always connect over TCP to 127.0.0.1.
#
# Setup
#   pg_install                     apt-get install postgresql-15 if missing; stop the
#                                  Debian-created "15 main" cluster; export PGBIN
#   pg_user                        ensure OS user $PGLIB_USER (default srpg); print it
#   pg_free_port                   print a free TCP port on 127.0.0.1
# Servers (DIR = data directory, PORT = TCP port)
#   pg_start DIR PORT [CONF_LINE...]  initdb DIR if needed, write config, start, wait;
#                                  exports PGHOST=127.0.0.1 PGPORT=PORT PGUSER=postgres
#                                  (call it directly, not inside $(...), or the exports
#                                  are lost).  CONF_LINE e.g. "archive_command='...'".
#   pg_start_restored DIR PORT [NAME=VALUE...]
#                                  start a data dir written by a restore (root-owned is
#                                  fine): chown -R to the pg user, chmod 700, start with
#                                  -p PORT -k <fresh socket dir> (+ -c NAME=VALUE each)
#                                  on the command line; postgresql.auto.conf and any
#                                  recovery settings are left alone.  Does NOT change
#                                  PGPORT (the original stays the default target).
#   pg_stop DIR [fast|immediate|smart]  stop if running (default fast)
#   pg_wait_ready [PORT] [TIMEOUT_S]    wait until the server accepts connections
#   pg_wait_recovery_end [PORT] [TIMEOUT_S]  wait until pg_is_in_recovery() is false
#   pg_is_running DIR              exit 0 if a postmaster runs for DIR
#   pg_log DIR                     print the server log path (DIR/server.log)
#   pg_cleanup                     stop every server/workload this library started
#                                  (mode $PGLIB_CLEANUP_MODE, default immediate) and
#                                  remove its socket/run dirs.  Idempotent.
#   pg_cleanup_on_exit             prepend pg_cleanup to the current EXIT trap
# SQL (PORT defaults to $PGPORT; host/user are 127.0.0.1/postgres)
#   pg_psql DB SQL                 psql -X -A -t -v ON_ERROR_STOP=1 -q -d DB -c SQL
#                                  (to target another server: PGPORT=P pg_psql DB SQL)
#   pg_now [PORT]                  server clock_timestamp(), e.g. 2025-01-01 10:00:00.123456+00
#   pg_switch_wal [PORT]           SELECT pg_switch_wal(); prints the LSN
#   pg_checkpoint [PORT]           CHECKPOINT
# Banking workload (balances start at $BANK_INITIAL_BALANCE = 1000)
#   bank_init DB NACCOUNTS [PORT]  create database DB with accounts + transfers
#   bank_create_all NACCOUNTS [PORT]  bank_init for accounts, transactions, payments,
#                                  notifications
#   bank_workload_start DB SECONDS CLIENTS [PORT]  background pgbench; prints its PID.
#                                  Rate limit with BANK_TPS=N (pgbench -R N).
#   bank_workload_start_all SECONDS CLIENTS [PORT]  one pgbench per bank DB; prints PIDs
#   bank_workload_wait PID...      wait for the pgbench(es); returns non-zero if any
#                                  failed (its log is printed to stderr then)
#   bank_workload_log PID          print the path of that pgbench's output
# Invariant checks (PORT defaults to $PGPORT)
#   bank_total DB [PORT]           sum(balance); must equal 1000 * NACCOUNTS
#   bank_naccounts DB [PORT]       count(*) of accounts
#   bank_expected_total DB [PORT]  1000 * NACCOUNTS
#   bank_max_transfer_id DB [PORT] max(transfers.id) (0 if none)
#   bank_ntransfers DB [PORT]      count(*) of transfers
#   bank_last_commit_ts DB [PORT]  latest commit timestamp among transfers ('' if none)
#   bank_committed_upto DB TS [PORT]  "COUNT MAXID" of transfers whose commit timestamp
#                                  pg_xact_commit_timestamp(xmin) <= TS
#   bank_checksum DB [PORT]        md5 over ordered accounts(id,balance) and
#                                  transfers(id,src,dst,amount,at)
#   bank_checksum_upto DB TS [PORT]  the md5 bank_checksum would give for a copy of DB
#                                  restored to TS (computed on the original from the
#                                  transfers committed <= TS; balances derived from them)
#   bank_ledger_ok DB [PORT]       exit 0 iff every balance equals 1000 + in - out of
#                                  the transfers table (checksum == checksum_upto infinity)
#   bank_check DB [PORT]           total == expected and ledger ok, else message + return 1
#
# Notes
#   * Data dirs may live anywhere (e.g. under a 0700 mktemp -d dir): pg_start and
#     pg_start_restored add o+x (search only, never read) to each ancestor the pg user
#     cannot enter.
#   * Unix sockets go to a fresh short /tmp/srpg.XXXXXX dir: PostgreSQL refuses to start
#     ("could not create any Unix-domain sockets") if DIR/.s.PGSQL.PORT > 107 bytes.
#   * The server log is DIR/server.log, i.e. inside the data dir: a backup of a running
#     cluster sees it grow, and a restored copy carries the original's log (appended to).
#   * A restored copy carries the original's pglib.conf (port, archive_command, ...).
#     The command line of pg_start_restored overrides port/socket; pass
#     archive_mode=off (or archive_command=...) so a promoted copy does not archive
#     into the original's archive.
#   * A backup must not restore postmaster.pid (pg_start_restored warns if present).
#   * bank_committed_upto/bank_checksum_upto use the commit timestamps that
#     recovery_target_time compares against, so "restored == committed <= T" is exact,
#     except for a theoretical microsecond race (two commits whose timestamp order
#     differs from their WAL order, straddling T).  Not observed in practice.
#
# Knobs: PGLIB_USER (srpg), PGLIB_START_TIMEOUT (60), PGLIB_RESTORED_START_TIMEOUT (300),
#        PGLIB_CLEANUP_MODE (immediate), BANK_TPS (unset = unthrottled).

if [[ -n ${_PGLIB_LOADED:-} ]]; then return 0; fi
_PGLIB_LOADED=1

export PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGLIB_USER=${PGLIB_USER:-srpg}
PGLIB_START_TIMEOUT=${PGLIB_START_TIMEOUT:-60}
PGLIB_RESTORED_START_TIMEOUT=${PGLIB_RESTORED_START_TIMEOUT:-300}
PGLIB_CLEANUP_MODE=${PGLIB_CLEANUP_MODE:-immediate}
BANK_INITIAL_BALANCE=1000
BANK_DATABASES=(accounts transactions payments notifications)

# Private state of this sourcing: servers started (DIR|PORT|SOCKDIR per line) and
# pgbench runs.  A file, not a variable, so that functions run in $(...) record too.
PGLIB_RUN=$(mktemp -d /tmp/pglib-run.XXXXXX)
chmod 755 "$PGLIB_RUN"
_PGLIB_OWNER_PID=$BASHPID
: >"$PGLIB_RUN/servers"

_pglib_err() { echo "pglib: $*" >&2; }

# Run a command as the pg user from a directory it can enter.
_pglib_as() {
  (cd / && runuser -u "$PGLIB_USER" -- "$@")
}

_pglib_port() { # [PORT] -> PORT or $PGPORT
  local p=${1:-${PGPORT:-}}
  [[ -n $p ]] || { _pglib_err "no port given and PGPORT unset"; return 1; }
  echo "$p"
}

_pglib_abs() { # DIR -> absolute path (DIR need not exist)
  local d=$1
  [[ $d == /* ]] || d=$PWD/$d
  echo "${d%/}"
}

pg_install() {
  if [[ ! -x /usr/lib/postgresql/15/bin/initdb || ! -x /usr/lib/postgresql/15/bin/pg_basebackup ]]; then
    local log
    log=$(mktemp /tmp/pglib-apt.XXXXXX)
    echo "pglib: installing postgresql-15 with apt-get" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        postgresql-15 postgresql-client-15 >"$log" 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
          postgresql-15 postgresql-client-15 >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        _pglib_err "apt-get install postgresql-15 failed (log: $log)"
        return 1
      fi
    fi
    rm -f "$log"
  fi
  # The Debian package auto-creates and starts cluster "15 main" on port 5432.
  # Stop it and keep it from starting automatically again.
  if [[ -d /etc/postgresql/15/main ]]; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    fi
    # "manual": never started at boot or by package upgrades; still startable by hand.
    if [[ -f /etc/postgresql/15/main/start.conf ]] &&
        ! grep -qx 'manual' /etc/postgresql/15/main/start.conf; then
      echo manual >/etc/postgresql/15/main/start.conf
    fi
  fi
  export PGBIN=/usr/lib/postgresql/15/bin
}

pg_user() {
  if ! id -u "$PGLIB_USER" >/dev/null 2>&1; then
    useradd --system --create-home --shell /bin/bash "$PGLIB_USER" ||
      id -u "$PGLIB_USER" >/dev/null 2>&1 || return 1
  fi
  echo "$PGLIB_USER"
}

pg_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return
  fi
  local p i # fallback: a random port nobody answers on
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  _pglib_err "pg_free_port: no free port found"
  return 1
}

# Give the pg user search (x) permission on every ancestor of DIR it cannot enter
# (e.g. mktemp -d dirs are 0700 root).  Only adds o+x; nothing becomes listable.
_pglib_fix_ancestors() {
  local dir=$1 p=""
  local -a parts
  IFS=/ read -r -a parts <<<"${dir#/}"
  local i n=$((${#parts[@]} - 1))
  for ((i = 0; i < n; i++)); do
    p+=/${parts[$i]}
    [[ -d $p ]] || break
    if ! runuser -u "$PGLIB_USER" -- test -x "$p" 2>/dev/null; then
      chmod o+x "$p" || return 1
    fi
  done
}

_pglib_new_sockdir() {
  local s
  s=$(mktemp -d /tmp/srpg.XXXXXX) || return 1
  chown "$PGLIB_USER" "$s" && chmod 700 "$s" || return 1
  echo "$s"
}

_pglib_track() { # DIR PORT SOCKDIR
  _pglib_untrack "$1"
  echo "$1|$2|$3" >>"$PGLIB_RUN/servers"
}

_pglib_untrack() { # DIR -> removes the line, removes its socket dir
  local dir=$1 d p s
  [[ -f $PGLIB_RUN/servers ]] || return 0
  : >"$PGLIB_RUN/servers.new"
  while IFS='|' read -r d p s; do
    [[ -n $d ]] || continue
    if [[ $d == "$dir" ]]; then
      [[ -n $s && $s == /tmp/srpg.* ]] && rm -rf "$s"
    else
      echo "$d|$p|$s" >>"$PGLIB_RUN/servers.new"
    fi
  done <"$PGLIB_RUN/servers"
  mv "$PGLIB_RUN/servers.new" "$PGLIB_RUN/servers"
}

pg_log() { echo "$(_pglib_abs "$1")/server.log"; }

pg_is_running() {
  local dir
  dir=$(_pglib_abs "$1")
  [[ -f $dir/postmaster.pid ]] || return 1
  _pglib_as "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

_pglib_start_failed() { # DIR WHAT
  _pglib_err "$2 failed for $1; last lines of $1/server.log:"
  tail -n 25 "$1/server.log" >&2 2>/dev/null || true
  return 1
}

pg_start() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: pg_start DIR PORT [CONF_LINE...]"; return 1; }
  local dir port sock line has_archive_cmd=0
  dir=$(_pglib_abs "$1")
  port=$2
  shift 2
  pg_user >/dev/null || return 1
  if pg_is_running "$dir"; then
    _pglib_err "a server is already running for $dir"
    return 1
  fi
  if [[ ! -f $dir/PG_VERSION ]]; then
    mkdir -p "$dir" || return 1
    chown "$PGLIB_USER" "$dir" && chmod 700 "$dir" || return 1
    _pglib_fix_ancestors "$dir" || return 1
    if ! _pglib_as "$PGBIN/initdb" -D "$dir" --data-checksums -A trust -U postgres \
        --no-locale -E UTF8 >"$PGLIB_RUN/initdb.log" 2>&1; then
      cat "$PGLIB_RUN/initdb.log" >&2
      _pglib_err "initdb failed for $dir"
      return 1
    fi
    echo "include_if_exists = 'pglib.conf'" >>"$dir/postgresql.conf"
    cat >"$dir/pg_hba.conf" <<'EOF'
# written by tests/pg/pglib.sh
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
EOF
  else
    _pglib_fix_ancestors "$dir" || return 1
  fi
  sock=$(_pglib_new_sockdir) || return 1
  for line in "$@"; do
    [[ $line =~ ^[[:space:]]*archive_command[[:space:]]*= ]] && has_archive_cmd=1
  done
  {
    echo "# written by tests/pg/pglib.sh pg_start; rewritten at every pg_start"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$sock'"
    echo "wal_level = replica"
    echo "max_wal_senders = 10"
    echo "max_replication_slots = 10"
    echo "track_commit_timestamp = on"
    echo "archive_mode = on"
    ((has_archive_cmd)) || echo "archive_command = '/bin/true'"
    echo "fsync = on"
    echo "shared_buffers = 128MB"
    echo "max_wal_size = 1GB"
    for line in "$@"; do echo "$line"; done
  } >"$dir/pglib.conf"
  chown "$PGLIB_USER" "$dir/pglib.conf" "$dir/pg_hba.conf" "$dir/postgresql.conf"
  _pglib_track "$dir" "$port" "$sock"
  if ! _pglib_as "$PGBIN/pg_ctl" -D "$dir" -w -t "$PGLIB_START_TIMEOUT" \
      -l "$dir/server.log" start >"$PGLIB_RUN/pg_ctl.log" 2>&1; then
    cat "$PGLIB_RUN/pg_ctl.log" >&2
    _pglib_start_failed "$dir" "pg_start"
    return 1
  fi
  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
  pg_wait_ready "$port" 30
}

pg_start_restored() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: pg_start_restored DIR PORT [NAME=VALUE...]"; return 1; }
  local dir port sock opts kv
  dir=$(_pglib_abs "$1")
  port=$2
  shift 2
  [[ -f $dir/PG_VERSION ]] || { _pglib_err "$dir is not a PostgreSQL data directory"; return 1; }
  pg_user >/dev/null || return 1
  if pg_is_running "$dir"; then
    _pglib_err "a server is already running for $dir"
    return 1
  fi
  [[ -e $dir/postmaster.pid ]] &&
    _pglib_err "warning: $dir contains postmaster.pid (a backup should not restore it)"
  chown -R "$PGLIB_USER" "$dir" && chmod 700 "$dir" || return 1
  _pglib_fix_ancestors "$dir" || return 1
  sock=$(_pglib_new_sockdir) || return 1
  opts="-p $port -k $sock -c listen_addresses=127.0.0.1"
  for kv in "$@"; do opts+=" -c $kv"; done
  _pglib_track "$dir" "$port" "$sock"
  if ! _pglib_as "$PGBIN/pg_ctl" -D "$dir" -w -t "$PGLIB_RESTORED_START_TIMEOUT" \
      -l "$dir/server.log" -o "$opts" start >"$PGLIB_RUN/pg_ctl.log" 2>&1; then
    cat "$PGLIB_RUN/pg_ctl.log" >&2
    _pglib_start_failed "$dir" "pg_start_restored"
    return 1
  fi
  pg_wait_ready "$port" 30
}

pg_stop() {
  [[ $# -ge 1 ]] || { _pglib_err "usage: pg_stop DIR [fast|immediate|smart]"; return 1; }
  local dir mode=${2:-fast}
  dir=$(_pglib_abs "$1")
  if pg_is_running "$dir"; then
    if ! _pglib_as "$PGBIN/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop \
        >"$PGLIB_RUN/pg_ctl.log" 2>&1; then
      cat "$PGLIB_RUN/pg_ctl.log" >&2
      _pglib_err "pg_stop $mode failed for $dir"
      return 1
    fi
  fi
  _pglib_untrack "$dir"
}

pg_wait_ready() {
  local port timeout=${2:-60} i
  port=$(_pglib_port "${1:-}") || return 1
  for ((i = 0; i < timeout * 10; i++)); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && return 0
    sleep 0.1
  done
  _pglib_err "server on port $port not ready after ${timeout}s"
  return 1
}

pg_wait_recovery_end() {
  local port timeout=${2:-120} i r
  port=$(_pglib_port "${1:-}") || return 1
  for ((i = 0; i < timeout * 10; i++)); do
    r=$(PGPORT=$port pg_psql postgres "SELECT pg_is_in_recovery()" 2>/dev/null) || r=""
    [[ $r == f ]] && return 0
    sleep 0.1
  done
  _pglib_err "server on port $port still in recovery after ${timeout}s"
  return 1
}

pg_psql() {
  [[ $# -eq 2 ]] || { _pglib_err "usage: pg_psql DB SQL"; return 1; }
  local port
  port=$(_pglib_port "") || return 1
  "$PGBIN/psql" -X -A -t -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -p "$port" -U postgres \
    -d "$1" -c "$2"
}

pg_now() { PGPORT=$(_pglib_port "${1:-}") pg_psql postgres "SELECT clock_timestamp()"; }
pg_switch_wal() { PGPORT=$(_pglib_port "${1:-}") pg_psql postgres "SELECT pg_switch_wal()"; }
pg_checkpoint() { PGPORT=$(_pglib_port "${1:-}") pg_psql postgres "CHECKPOINT"; }

pg_cleanup() {
  local d p s f pid
  [[ -n ${PGLIB_RUN:-} && -d $PGLIB_RUN ]] || return 0
  for f in "$PGLIB_RUN"/pgbench.*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    kill -INT "$pid" 2>/dev/null || true
  done
  if [[ -f $PGLIB_RUN/servers ]]; then
    while IFS='|' read -r d p s; do
      [[ -n $d ]] || continue
      if [[ -f $d/postmaster.pid ]]; then
        _pglib_as "$PGBIN/pg_ctl" -D "$d" -m "$PGLIB_CLEANUP_MODE" -w -t 30 stop \
          >/dev/null 2>&1 ||
          _pglib_as "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
      fi
      [[ -n $s && $s == /tmp/srpg.* ]] && rm -rf "$s"
    done <"$PGLIB_RUN/servers"
  fi
  for f in "$PGLIB_RUN"/pgbench.*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ $BASHPID == "$_PGLIB_OWNER_PID" ]]; then
    rm -rf "$PGLIB_RUN"
  fi
  return 0
}

pg_cleanup_on_exit() {
  local cur
  cur=$(trap -p EXIT)
  if [[ -n $cur ]]; then
    eval "set -- $cur"   # -> trap -- 'COMMANDS' EXIT
    # shellcheck disable=SC2064  # expand the old trap text now, on purpose
    trap "pg_cleanup; $3" EXIT
  else
    trap pg_cleanup EXIT
  fi
}

# ---------------------------------------------------------------- banking ----

bank_init() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: bank_init DB NACCOUNTS [PORT]"; return 1; }
  local db=$1 n=$2 port
  port=$(_pglib_port "${3:-}") || return 1
  ((n >= 2)) || { _pglib_err "bank_init: need at least 2 accounts"; return 1; }
  PGPORT=$port pg_psql postgres "CREATE DATABASE \"$db\"" || return 1
  PGPORT=$port pg_psql "$db" "
    CREATE TABLE accounts(id int PRIMARY KEY, balance bigint NOT NULL);
    CREATE TABLE transfers(id bigserial PRIMARY KEY, src int, dst int, amount bigint,
                           at timestamptz DEFAULT clock_timestamp());
    INSERT INTO accounts SELECT g, $BANK_INITIAL_BALANCE FROM generate_series(1, $n) g;
    ANALYZE accounts;" || return 1
}

bank_create_all() {
  [[ $# -ge 1 ]] || { _pglib_err "usage: bank_create_all NACCOUNTS [PORT]"; return 1; }
  local db
  for db in "${BANK_DATABASES[@]}"; do
    bank_init "$db" "$1" "${2:-}" || return 1
  done
}

_pglib_bank_script() {
  local f=$PGLIB_RUN/bank_transfer.pgbench
  if [[ ! -f $f ]]; then
    # One transfer per transaction.  Rows are locked in id order (lo, then hi) so
    # concurrent clients cannot deadlock; src != dst always.
    cat >"$f" <<'EOF'
\set src random(1, :naccounts)
\set dst 1 + (:src + random(0, :naccounts - 2)) % :naccounts
\set amount random(1, 100)
\set lo least(:src, :dst)
\set hi greatest(:src, :dst)
BEGIN;
UPDATE accounts SET balance = balance + CASE WHEN id = :src THEN -:amount ELSE :amount END WHERE id = :lo;
UPDATE accounts SET balance = balance + CASE WHEN id = :src THEN -:amount ELSE :amount END WHERE id = :hi;
INSERT INTO transfers(src, dst, amount) VALUES (:src, :dst, :amount);
END;
EOF
  fi
  echo "$f"
}

bank_workload_start() {
  [[ $# -ge 3 ]] || { _pglib_err "usage: bank_workload_start DB SECONDS CLIENTS [PORT]"; return 1; }
  local db=$1 secs=$2 clients=$3 port n script tag i
  port=$(_pglib_port "${4:-}") || return 1
  n=$(bank_naccounts "$db" "$port") || return 1
  script=$(_pglib_bank_script) || return 1
  local -a cmd=("$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n
    -T "$secs" -c "$clients" -j 1 --max-tries=10 -f "$script" -D "naccounts=$n")
  [[ -n ${BANK_TPS:-} ]] && cmd+=(-R "$BANK_TPS")
  cmd+=("$db")
  tag=$PGLIB_RUN/pgbench.$$.$RANDOM$RANDOM
  # A detached wrapper runs pgbench, records its PID and exit code.
  (
    exec 3>"$tag.log"   # opened before the fork, so renaming it below is safe
    "${cmd[@]}" >&3 2>&3 3>&- &
    pid=$!
    exec 3>&-
    mv "$tag.log" "$PGLIB_RUN/pgbench.$pid.log"
    echo "$pid" >"$tag.pid.tmp"
    mv "$tag.pid.tmp" "$tag.pid"
    rc=0
    wait "$pid" || rc=$?
    echo "$rc" >"$tag.rc.tmp"
    mv "$tag.rc.tmp" "$PGLIB_RUN/pgbench.$pid.rc"
  ) </dev/null >/dev/null 2>&1 &
  for ((i = 0; i < 100; i++)); do
    [[ -f $tag.pid ]] && break
    sleep 0.05
  done
  [[ -f $tag.pid ]] || { _pglib_err "pgbench did not start"; return 1; }
  local pid
  pid=$(cat "$tag.pid")
  mv "$tag.pid" "$PGLIB_RUN/pgbench.$pid.pid"
  echo "$pid"
}

bank_workload_start_all() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: bank_workload_start_all SECONDS CLIENTS [PORT]"; return 1; }
  local db pids=() pid
  for db in "${BANK_DATABASES[@]}"; do
    pid=$(bank_workload_start "$db" "$1" "$2" "${3:-}") || return 1
    pids+=("$pid")
  done
  echo "${pids[*]}"
}

bank_workload_log() { echo "$PGLIB_RUN/pgbench.$1.log"; }

bank_workload_wait() {
  local pid rc worst=0
  for pid in "$@"; do
    while [[ ! -f $PGLIB_RUN/pgbench.$pid.rc ]]; do
      [[ -f $PGLIB_RUN/pgbench.$pid.pid ]] ||
        { _pglib_err "unknown pgbench PID $pid"; worst=1; continue 2; }
      sleep 0.1
    done
    rc=$(cat "$PGLIB_RUN/pgbench.$pid.rc")
    rm -f "$PGLIB_RUN/pgbench.$pid.pid"
    if [[ $rc != 0 ]]; then
      _pglib_err "pgbench $pid exited $rc; its output:"
      cat "$(bank_workload_log "$pid")" >&2 || true
      worst=$rc
    fi
  done
  return "$worst"
}

bank_naccounts() { PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "SELECT count(*) FROM accounts"; }
bank_total() { PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "SELECT coalesce(sum(balance), 0) FROM accounts"; }
bank_expected_total() {
  PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "SELECT $BANK_INITIAL_BALANCE * count(*) FROM accounts"
}
bank_max_transfer_id() { PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "SELECT coalesce(max(id), 0) FROM transfers"; }
bank_last_commit_ts() {
  PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" \
    "SELECT coalesce(max(pg_xact_commit_timestamp(xmin))::text, '') FROM transfers"
}
bank_ntransfers() { PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "SELECT count(*) FROM transfers"; }

_pglib_sql_lit() { printf "'%s'" "${1//\'/\'\'}"; }

bank_committed_upto() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: bank_committed_upto DB TIMESTAMP [PORT]"; return 1; }
  PGPORT=$(_pglib_port "${3:-}") pg_psql "$1" "
    SELECT count(*) || ' ' || coalesce(max(id), 0) FROM transfers
    WHERE pg_xact_commit_timestamp(xmin) <= $(_pglib_sql_lit "$2")::timestamptz"
}

# Text both checksums hash: accounts "id:balance," in id order, "|", transfers
# "id:src:dst:amount:epoch(at)," in id order.  Everything is one statement (one
# snapshot, and no temp tables, so it also works on a hot standby / paused recovery).
_pglib_bank_md5_expr() { # ACCOUNTS_QUERY TRANSFERS_QUERY
  echo "md5(
      coalesce((SELECT string_agg(a.id || ':' || a.balance, ',' ORDER BY a.id) FROM ($1) a), '')
      || '|' ||
      coalesce((SELECT string_agg(t.id || ':' || t.src || ':' || t.dst || ':' || t.amount
                                  || ':' || extract(epoch FROM t.at), ',' ORDER BY t.id)
                FROM ($2) t), ''))"
}

# Balances derived from the transfers in CTE _t (every account starts at 1000).
_pglib_bank_derived_accounts="
    SELECT a.id, $BANK_INITIAL_BALANCE + coalesce(d.delta, 0) AS balance
    FROM accounts a LEFT JOIN (
      SELECT acct, sum(delta) AS delta FROM (
        SELECT src AS acct, -amount AS delta FROM _t
        UNION ALL SELECT dst, amount FROM _t) x
      GROUP BY acct) d ON d.acct = a.id"

bank_checksum() {
  [[ $# -ge 1 ]] || { _pglib_err "usage: bank_checksum DB [PORT]"; return 1; }
  PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" \
    "SELECT $(_pglib_bank_md5_expr "SELECT id, balance FROM accounts" "SELECT * FROM transfers")"
}

bank_checksum_upto() {
  [[ $# -ge 2 ]] || { _pglib_err "usage: bank_checksum_upto DB TIMESTAMP [PORT]"; return 1; }
  local filter="TRUE"
  [[ $2 != infinity ]] &&
    filter="pg_xact_commit_timestamp(xmin) <= $(_pglib_sql_lit "$2")::timestamptz"
  PGPORT=$(_pglib_port "${3:-}") pg_psql "$1" "
    WITH _t AS MATERIALIZED (SELECT * FROM transfers WHERE $filter)
    SELECT $(_pglib_bank_md5_expr "$_pglib_bank_derived_accounts" "SELECT * FROM _t")"
}

bank_ledger_ok() {
  [[ $# -ge 1 ]] || { _pglib_err "usage: bank_ledger_ok DB [PORT]"; return 1; }
  local r
  r=$(PGPORT=$(_pglib_port "${2:-}") pg_psql "$1" "
    WITH _t AS MATERIALIZED (SELECT * FROM transfers)
    SELECT $(_pglib_bank_md5_expr "SELECT id, balance FROM accounts" "SELECT * FROM _t")
         = $(_pglib_bank_md5_expr "$_pglib_bank_derived_accounts" "SELECT * FROM _t")") || return 1
  [[ $r == t ]]
}

bank_check() {
  [[ $# -ge 1 ]] || { _pglib_err "usage: bank_check DB [PORT]"; return 1; }
  local total expected
  total=$(bank_total "$1" "${2:-}") || return 1
  expected=$(bank_expected_total "$1" "${2:-}") || return 1
  if [[ $total != "$expected" ]]; then
    _pglib_err "bank_check $1: total $total != expected $expected"
    return 1
  fi
  if ! bank_ledger_ok "$1" "${2:-}"; then
    _pglib_err "bank_check $1: balances disagree with the transfers ledger"
    return 1
  fi
}
