# Shared helpers for the `strongroom serve` end-to-end tests (test_daemon_*.sh). Source after
# lib.sh; do not run it.
#
# Provides:
#   SR_SOURCE_DIR           the source tree (default: two levels above this file)
#   TOKEN, TOKEN_FILE       the API token (24 random hex characters) in a 0600 file
#   PORT, BASE              a free loopback port chosen at run time, http://127.0.0.1:$PORT
#   CFG                     $T/strongroom.yaml (the tests write it; daemon_yaml_head helps)
#   free_port               print a free TCP port on 127.0.0.1 (lib.sh)
#   daemon_yaml_head        print the repositories: and server: sections for $CFG
#   init_daemon_repo        init $REPO
#   start_daemon            `serve --config $CFG` in the background (DPID, DLOG); waits for
#                           /healthz and /readyz; a port taken meanwhile is replaced once
#   stop_daemon [SECS]      SIGTERM; fails unless it exits (status 0) within SECS (default 30);
#                           sets STOP_SECONDS (= term_daemon; wait_daemon_exit SECS)
#   kill_daemon             SIGKILL the daemon and every process below it (by pid)
#   api METHOD PATH [BODY]  request with the token: body in $OUT, status in $CODE
#   http_code PATH [CURL ARGS...]  status of a request made with the given curl arguments
#   wait_until SECS DESC CMD...    poll CMD (every 0.2 s) until it succeeds, else fail
#   wait_until_soft SECS CMD...    the same, returning 1 on timeout
#   post_job JOB SOURCE     POST /api/jobs, expect 202, print the id
#   job_state ID            print the job's state (from GET /api/jobs)
#   wait_job ID [SECS]      wait until the job finished, print its state
#   bg NAME CMD...          start a helper process in the background (stopped at exit); BG_PID
#   stop_bg PID             stop a helper started with bg
#   soft_fail MSG           record a failed check and go on; finish_checks fails at the end
#   finish_checks           fail if soft_fail recorded anything, else pass
#   json_q EXPR [FILE]      lib.sh's json without its traceback (for polling)
#   sqlite_query DB SQL     run SQL read-only with python3's sqlite3 module (rows as JSON)
# At exit everything started here is stopped (by pid) before $T is removed; when the test
# failed, the tail of each daemon log is printed.

SR_SOURCE_DIR=${SR_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

command -v curl >/dev/null || fail "curl is needed"

DAEMON_PIDS=()
BG_PIDS=()
BG_NAMES=()
DAEMON_N=0
DPID=
DLOG=
SOFT_FAILURES=()

# Every process below PID (children first listed before their own children).
descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

_kill_tree() {  # _kill_tree PID: SIGKILL PID and everything below it
  local pids
  pids=$(descendants "$1")
  # shellcheck disable=SC2086  # a list of pids
  kill -KILL "$1" $pids 2>/dev/null || true
}

daemon_cleanup() {
  local rc=$? p i
  for p in "${DAEMON_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      local below
      below=$(descendants "$p")
      kill -TERM "$p" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      # shellcheck disable=SC2086  # a list of pids
      kill -KILL "$p" $below 2>/dev/null || true
    fi
  done
  for p in "${BG_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null && _kill_tree "$p"
  done
  wait 2>/dev/null || true
  if [[ $rc -ne 0 ]]; then
    for p in "$T"/serve.*.log; do
      [[ -f $p ]] || continue
      echo "--- ${p##*/} (last 40 lines):" >&2
      tail -n 40 "$p" >&2
    done
  fi
  chmod -R u+rwX "$T" 2>/dev/null
  rm -rf "$T"
  return "$rc"
}
trap daemon_cleanup EXIT

TOKEN=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
TOKEN_FILE=$T/api-token
(umask 077 && printf '%s\n' "$TOKEN" >"$TOKEN_FILE")
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CFG=$T/strongroom.yaml

init_daemon_repo() { init_repo >/dev/null; }

daemon_yaml_head() {
  cat <<YAML
repositories:
  primary: {url: $REPO, password_file: $STRONGROOM_PASSWORD_FILE}
server:
  listen: 127.0.0.1:$PORT
  token_file: $TOKEN_FILE
  state_dir: $T/state
  refresh_every: 1s
  shutdown_timeout: 2s
YAML
}

wait_until() {  # wait_until SECS DESCRIPTION CMD...
  local secs=$1 desc=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for: $desc"
    sleep 0.2
  done
}

wait_until_soft() {  # wait_until_soft SECS CMD...: like wait_until, but returns 1 on timeout
  local secs=$1
  shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

_daemon_alive() {
  kill -0 "$DPID" 2>/dev/null
}

_daemon_answers() {  # _daemon_answers PATH
  _daemon_alive || return 2
  [[ $(curl -s -m 3 -o /dev/null -w '%{http_code}' "$BASE$1" 2>/dev/null) == 200 ]]
}

start_daemon() {
  local attempt
  for attempt in 1 2; do
    DAEMON_N=$((DAEMON_N + 1))
    DLOG=$T/serve.$DAEMON_N.log
    "$SR" serve --config "$CFG" >"$T/serve.$DAEMON_N.out" 2>"$DLOG" &
    DPID=$!
    DAEMON_PIDS+=("$DPID")
    local deadline=$((SECONDS + 30)) rc=0
    while :; do
      _daemon_answers /healthz && break
      if ! _daemon_alive; then
        rc=1
        break
      fi
      ((SECONDS < deadline)) || fail "the daemon did not answer /healthz within 30 s: $(tail -n 20 "$DLOG")"
      sleep 0.1
    done
    if [[ $rc -eq 0 ]]; then
      wait_until 30 "/readyz (first catalog snapshot)" _daemon_answers /readyz
      return 0
    fi
    # The port was taken between free_port and the start: once, with another one.
    if [[ $attempt -eq 1 ]] && grep -q 'cannot listen' "$DLOG"; then
      local new
      new=$(free_port)
      sed -i "s/127\.0\.0\.1:$PORT\$/127.0.0.1:$new/" "$CFG"
      note "port $PORT was taken; using $new"
      PORT=$new
      BASE=http://127.0.0.1:$PORT
      continue
    fi
    fail "the daemon exited at start: $(tail -n 20 "$DLOG")"
  done
}

stop_daemon() {  # stop_daemon [SECS]
  term_daemon
  wait_daemon_exit "${1:-30}"
}

term_daemon() {  # SIGTERM, and note the time for wait_daemon_exit
  TERM_AT=$(date +%s.%N)
  kill -TERM "$DPID" 2>/dev/null || fail "the daemon (pid $DPID) is not running"
}

wait_daemon_exit() {  # wait_daemon_exit SECS: after term_daemon; sets STOP_SECONDS
  local secs=$1 rc=0
  local deadline=$((SECONDS + secs))
  while _daemon_alive; do
    ((SECONDS < deadline)) || fail "the daemon did not stop within ${secs}s of SIGTERM"
    sleep 0.1
  done
  STOP_SECONDS=$(python3 -c "import time; print(round(time.time() - $TERM_AT, 2))")
  wait "$DPID" || rc=$?
  [[ $rc -eq 0 ]] || fail "serve exited with status $rc after SIGTERM"
}

kill_daemon() {
  _kill_tree "$DPID"
  wait "$DPID" 2>/dev/null || true
}

api() {  # api METHOD PATH [BODY]
  local args=(-s -m 30 -o "$OUT" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  CODE=$(curl "${args[@]}" "$BASE$2" 2>"$ERR") || CODE=000
}

# api_ok METHOD PATH [BODY]: api, and fail unless 200.
api_ok() {
  api "$@"
  [[ $CODE == 200 ]] || fail "$1 $2: HTTP $CODE (want 200): $(head -c 500 "$OUT")"
}

http_code() {  # http_code PATH [CURL ARGS...]
  local p=$1
  shift
  curl -s -m 30 -o "$OUT" -w '%{http_code}' "$@" "$BASE$p" 2>"$ERR" || echo 000
}

post_job() {  # post_job JOB SOURCE: prints the id
  api POST /api/jobs "{\"job\": \"$1\", \"source\": \"$2\"}"
  [[ $CODE == 202 ]] || fail "POST /api/jobs $1 $2: HTTP $CODE (want 202): $(head -c 500 "$OUT")"
  json 'print(d["id"])'
}

job_state() {  # job_state ID
  api_ok GET "/api/jobs?limit=100000"
  I=$1 json 'print(next((j["state"] for j in d["jobs"] if j["id"] == int(os.environ["I"])), "missing"))'
}

_job_done() {
  case $(job_state "$1") in
    ok | failed | cancelled) return 0 ;;
    *) return 1 ;;
  esac
}

wait_job() {  # wait_job ID [SECS]: prints the final state
  wait_until "${2:-60}" "job $1 to finish" _job_done "$1"
  job_state "$1"
}

bg() {  # bg NAME CMD...: a helper process, stopped at exit
  local name=$1
  shift
  "$@" &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
  BG_NAMES+=("$name")
}

stop_bg() {
  _kill_tree "$1"
  wait "$1" 2>/dev/null || true
}

soft_fail() {
  echo "CHECK FAILED [$TEST_NAME]: $*" >&2
  SOFT_FAILURES+=("$*")
}

finish_checks() {
  if ((${#SOFT_FAILURES[@]})); then
    local m
    for m in "${SOFT_FAILURES[@]}"; do echo "  - $m" >&2; done
    fail "${#SOFT_FAILURES[@]} check(s) failed (listed above)"
  fi
  pass
}

json_q() { json "$@" 2>/dev/null; }

sqlite_query() {  # sqlite_query DB SQL: rows as a JSON list of lists
  python3 - "$1" "$2" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=10)
print(json.dumps(db.execute(sys.argv[2]).fetchall()))
EOF
}
