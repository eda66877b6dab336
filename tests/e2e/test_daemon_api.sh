#!/usr/bin/env bash
# strongroom serve: the HTTP API (tokens, jobs, backups, logs, refused requests and bodies, and
# no connection going on after a refused body), run-now and status (through the daemon, with a
# wrong token, and once it stopped from the repository), SIGHUP (a broken file is rejected and
# the daemon goes on, a good one is applied, the token file is read again unless others can
# read it), SIGTERM while a long job runs (the API answers and refuses new jobs, queued jobs are
# cancelled, after shutdown_timeout the running job is cancelled and its processes are gone; the
# repository verifies), a token file others can read refused at start, job history across a
# restart, and the token in no log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

init_daemon_repo
mkdir -p "$T/data-a" "$T/data-b"
gen_tree "$T/data-a" 64
echo b >"$T/data-b/file"

write_cfg() {  # write_cfg [EXTRA SOURCE YAML]
  {
    daemon_yaml_head
    cat <<YAML
sources:
  a:
    type: files
    kind: configuration
    paths: [$T/data-a]
  slow:
    type: command
    kind: export
    command: "sleep 30; echo x"
  broken:
    type: command
    kind: export
    command: "echo the-dump-tool-broke >&2; exit 1"
${1:-}
YAML
  } >"$CFG"
}
write_cfg

# --- serve refuses a token file others can read (and a short token), naming token_file.
chmod 644 "$TOKEN_FILE"
SR_TIMEOUT=20 expect_exit nonzero "$SR" serve --config "$CFG"
grep -q 'token_file' "$ERR" || fail "refusal of a world-readable token file does not name token_file: $(cat "$ERR")"
grep -q 'chmod 600' "$ERR" || fail "refusal of a world-readable token file does not say what to do: $(cat "$ERR")"
printf 'short\n' >"$T/short-token" && chmod 600 "$T/short-token"
sed "s#token_file: $TOKEN_FILE#token_file: $T/short-token#" "$CFG" >"$T/short.yaml"
SR_TIMEOUT=20 expect_exit nonzero "$SR" serve --config "$T/short.yaml"
grep -q 'token_file' "$ERR" || fail "refusal of a short token does not name token_file: $(cat "$ERR")"
chmod 600 "$TOKEN_FILE"
note "token file checks ok"

start_daemon

# --- /healthz without a token; everything else needs it.
[[ $(http_code /healthz) == 200 ]] || fail "/healthz without a token: $(cat "$OUT")"
grep -q ok "$OUT" || fail "/healthz body: $(cat "$OUT")"
[[ $(http_code /readyz) == 200 ]] || fail "/readyz: $(cat "$OUT")"
for p in /api/status /api/jobs /api/backups /metrics; do
  [[ $(http_code "$p") == 401 ]] || fail "$p without a token: HTTP $(cat "$OUT")"
  json 'assert isinstance(d["error"], str) and d["error"], d' || fail "$p without a token: no JSON error: $(cat "$OUT")"
done
hdr=$(curl -s -m 10 -D - -o /dev/null "$BASE/api/status")
grep -qi '^WWW-Authenticate: Bearer realm="strongroom"' <<<"$hdr" || fail "a 401 without WWW-Authenticate: $hdr"
[[ $(http_code /) == 200 ]] || fail "the dashboard page without a token: HTTP $(head -c 300 "$OUT")"
grep -qi '<html' "$OUT" || fail "GET / is not HTML: $(head -c 300 "$OUT")"
[[ $(http_code /api/status -H "Authorization: Bearer ${TOKEN}x") == 401 ]] || fail "a wrong token (one character more) was accepted"
[[ $(http_code /api/status -H "Authorization: Bearer ${TOKEN%?}") == 401 ]] || fail "a wrong token (one character less) was accepted"
[[ $(http_code /api/status -H "Authorization: Basic $TOKEN") == 401 ]] || fail "a Basic authorization was accepted"
[[ $(http_code /api/status -H "Authorization: Bearer ${TOKEN%?}X") == 401 ]] || fail "a wrong token of the right length was accepted"
ctype=$(curl -s -m 10 -o "$OUT" -w '%{content_type}' -H "Authorization: Bearer $TOKEN" "$BASE/api/status")
[[ $ctype == application/json* ]] || fail "/api/status content type: $ctype"
json '
names = [s["name"] for s in d["sources"]]
assert names == ["a", "slow", "broken"], names
a = d["sources"][0]
assert a["type"] == "files" and a["kind"] == "configuration" and a["repository"] == "primary", a
assert a["state"] in ("unknown", "warning"), a       # no backup yet
assert d["daemon"]["max_concurrent_jobs"] == 2, d["daemon"]
assert d["repositories"][0]["name"] == "primary", d["repositories"]
' || fail "/api/status with the token: $(head -c 1500 "$OUT")"
note "authentication ok"

# --- a backup through POST /api/jobs.
id1=$(post_job backup a)
[[ $(wait_job "$id1") == ok ]] || fail "job $id1 (backup a) did not end ok: $(cat "$OUT")"
api_ok GET "/api/jobs?source=a"
I=$id1 json '
j = next(j for j in d["jobs"] if j["id"] == int(os.environ["I"]))
assert j["job"] == "backup" and j["source"] == "a" and j["trigger"] == "manual", j
assert j["start"] and j["end"] and j["queued"] and j["duration_s"] is not None and j["duration_s"] >= 0, j
assert j["error"] == "", j
' || fail "job $id1 in /api/jobs: $(cat "$OUT")"
wait_until 20 "the backup in /api/backups" eval 'api_ok GET "/api/backups?source=a"; json_q "assert len(d[\"backups\"]) == 1"'
json '
b = d["backups"][0]
assert b["source"] == "a" and b["type"] == "files" and b["kind"] == "configuration", b
assert b["repository"] == "primary" and b["size_bytes"] > 0 and b["files"] > 0, b
assert b["size_median"] is None, b
' || fail "/api/backups: $(cat "$OUT")"
backup_id=$(json 'print(d["backups"][0]["id"])')
sr backups --repo "$REPO" --json
B=$backup_id json 'assert any(b["id"] == os.environ["B"] for b in d)' || fail "the API's backup $backup_id is not in the repository"
ctype=$(curl -s -m 10 -o "$OUT" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $TOKEN" "$BASE/api/jobs/$id1/log")
[[ $ctype == "200 text/plain"* ]] || fail "/api/jobs/$id1/log: $ctype"
[[ $(http_code /api/jobs/999999/log -H "Authorization: Bearer $TOKEN") == 404 ]] || fail "the log of a job that does not exist: $(cat "$OUT")"
note "POST /api/jobs backup ok ($backup_id)"

# --- a failing job: failed, with the command's message as its error and in its log.
id2=$(post_job backup broken)
[[ $(wait_job "$id2") == failed ]] || fail "job $id2 (backup broken) did not fail"
api_ok GET "/api/jobs?source=broken"
json 'assert "the-dump-tool-broke" in d["jobs"][0]["error"], d["jobs"][0]' || fail "failed job's error: $(cat "$OUT")"
api_ok GET "/api/jobs/$id2/log"
grep -q the-dump-tool-broke "$OUT" || fail "the failed job's log lacks the command's stderr: $(cat "$OUT")"
wait_until 10 "source broken critical in /api/status" eval \
  'api_ok GET /api/status; json_q "assert [s for s in d[\"sources\"] if s[\"name\"] == \"broken\"][0][\"state\"] == \"critical\""'

# --- refused requests: 400 with an error, 411 for chunked bodies, 413 above 64 KiB.
expect_400() {  # expect_400 BODY WORD
  api POST /api/jobs "$1"
  [[ $CODE == 400 ]] || fail "POST /api/jobs $1: HTTP $CODE (want 400): $(cat "$OUT")"
  W=$2 json 'assert os.environ["W"] in d["error"], d' || fail "POST /api/jobs $1: the error does not name '$2': $(cat "$OUT")"
}
expect_400 '{"job": "dance", "source": "a"}' dance
expect_400 '{"job": "backup", "source": "nosuch"}' nosuch
expect_400 '{"job": "backup"}' source
expect_400 '{"job": "backup", "source": "a", "type": "incr"}' type
expect_400 '{"job": 7, "source": "a"}' job
expect_400 'not json' JSON
expect_400 '["backup", "a"]' JSON
code=$(http_code /api/jobs -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -H 'Transfer-Encoding: chunked' --data-binary '{"job": "backup", "source": "a"}')
[[ $code == 411 ]] || fail "a chunked POST: HTTP $code (want 411): $(cat "$OUT")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
code=$(http_code /api/jobs -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data-binary @"$T/big.json")
[[ $code == 413 ]] || fail "a 70000-byte POST: HTTP $code (want 413): $(cat "$OUT")"
# The limit is 64 KiB: a valid body just below it is read.
python3 -c 'import json; print(json.dumps({"job": "backup", "source": "nosuch", "pad": "x" * 65000}))' >"$T/almost.json"
code=$(http_code /api/jobs -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data-binary @"$T/almost.json")
[[ $code == 400 ]] || fail "a 65 KB POST below the limit: HTTP $code (want 400 for its unknown source): $(cat "$OUT")"
[[ $(http_code /healthz) == 200 ]] || fail "the daemon stopped answering after the refused requests"
# A refused body is never read: the connection must not go on with its bytes as the next
# request (a desync: a body that holds a request would be run as one).
smuggle_check() {  # smuggle_check 413|411
  python3 - "$PORT" "$TOKEN" "$1" <<'EOF'
import socket, sys, time
port, token, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
inner = ("GET /api/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode()
framing = b"Content-Length: 70000" if kind == "413" else b"Transfer-Encoding: chunked"
head = b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + b"\r\n\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(head)
time.sleep(0.5)
try:
    s.sendall(inner)
except OSError:
    pass
data = b""
s.settimeout(1.5)
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
except (socket.timeout, ConnectionResetError):
    pass
first = data.split(b"\r\n", 1)[0].decode(errors="replace")
if not first.startswith("HTTP/1.1 " + kind):
    print("the first answer is %r, want %s" % (first, kind))
    sys.exit(1)
n = data.count(b"HTTP/1.1 ")
if n != 1:
    print("%d answers on one connection: the refused body was read as the next request" % n)
    sys.exit(1)
EOF
}
for kind in 413 411; do
  msg=$(smuggle_check $kind) || soft_fail "after a $kind answer the connection goes on: $msg"
done
api_ok GET /api/jobs
[[ $(json 'print(len(d["jobs"]))') == 2 ]] || fail "a refused request queued a job: $(cat "$OUT")"
note "refused requests ok"

# --- run-now and status through the daemon.
sr run-now --config "$CFG" --job backup --source a
grep -Eq '^job [0-9]+ queued: backup a' "$OUT" || fail "run-now output: $(cat "$OUT")"
id3=$(grep -Eo '^job [0-9]+' "$OUT" | cut -d' ' -f2)
[[ $(wait_job "$id3") == ok ]] || fail "run-now job $id3 did not end ok"
sr run-now --config "$CFG" --job backup --source a --json
id4=$(json 'print(d["id"])')
[[ $id4 -eq $((id3 + 1)) ]] || fail "run-now --json: id $id4 after $id3"
[[ $(wait_job "$id4") == ok ]] || fail "run-now job $id4 did not end ok"
expect_exit 2 "$SR" run-now --config "$CFG" --job backup --source nosuch
grep -q nosuch "$ERR" || fail "run-now of an unknown source: $(cat "$ERR")"
# A wrong token: run-now exits 1, status is an error (not a fallback to the repositories).
(umask 077 && echo "wrong-token-0123456789abcdef" >"$T/wrong-token")
sed "s#token_file: $TOKEN_FILE#token_file: $T/wrong-token#" "$CFG" >"$T/wrong.yaml"
expect_exit 1 "$SR" run-now --config "$T/wrong.yaml" --job backup --source a
expect_error_line
expect_exit nonzero "$SR" status --config "$T/wrong.yaml"
grep -q 'from the repositories' "$OUT" && fail "status with a wrong token fell back to the repositories"
expect_error_line
wait_until 20 "/api/status to show 3 backups of a" eval \
  'api_ok GET "/api/backups?source=a"; json_q "assert len(d[\"backups\"]) == 3"'
api_ok GET "/api/jobs?limit=1"
[[ $(json 'print(len(d["jobs"]))') == 1 ]] || fail "/api/jobs?limit=1: $(cat "$OUT")"
sr status --config "$CFG"
grep -q "from the daemon on 127.0.0.1:$PORT" "$OUT" || fail "status: not from the daemon: $(cat "$OUT")"
grep -Eq '^a +ok +files ' "$OUT" || fail "status: row of a: $(cat "$OUT")"
grep -Eq '^broken +critical ' "$OUT" || fail "status: row of broken: $(cat "$OUT")"
sr status --config "$CFG" --json
C=$CFG json '
assert d["daemon"] is not None and d["daemon"]["config"] == os.environ["C"], d["daemon"]
a = [s for s in d["sources"] if s["name"] == "a"][0]
assert a["state"] == "ok" and a["last_backup"]["type"] == "files", a
assert a["last_job"]["state"] == "ok" and a["last_job"]["job"] == "backup", a
' || fail "status --json: $(head -c 2000 "$OUT")"
note "run-now and status ok"

# --- SIGHUP: a broken file is rejected (the daemon and its API go on); a good one is applied.
printf '  oops: [\n' >>"$CFG"
kill -HUP "$DPID"
wait_until 10 "the daemon to log that the reload was rejected" grep -q 'reload rejected' "$DLOG"
kill -0 "$DPID" || fail "the daemon died on SIGHUP with a broken file"
api_ok GET /api/status
json 'assert [s["name"] for s in d["sources"]] == ["a", "slow", "broken"], d["sources"]' || fail "sources after a rejected reload"
write_cfg "  b:
    type: files
    kind: configuration
    paths: [$T/data-b]"
kill -HUP "$DPID"
wait_until 10 "the daemon to log the reload" grep -q 'configuration reloaded' "$DLOG"
# (/api/status is rendered at most once a second: allow a few seconds for the new sources.)
wait_until 5 "the reloaded file's sources in /api/status" eval \
  'api_ok GET /api/status; json_q "assert [s[\"name\"] for s in d[\"sources\"]] == [\"a\", \"slow\", \"broken\", \"b\"]"'
# The token file is read again on SIGHUP; one that others can read keeps the old token.
OLD_TOKEN=$TOKEN
TOKEN=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$TOKEN_FILE"
kill -HUP "$DPID"
wait_until 10 "the new token to be accepted" eval '[[ $(http_code /api/status -H "Authorization: Bearer $TOKEN") == 200 ]]'
[[ $(http_code /api/status -H "Authorization: Bearer $OLD_TOKEN") == 401 ]] || fail "the old token is still accepted after the token file changed"
chmod 644 "$TOKEN_FILE"
printf '%s\n' "$OLD_TOKEN" >"$TOKEN_FILE"
n=$(grep -c 'configuration reloaded' "$DLOG")
kill -HUP "$DPID"
wait_until 10 "the third reload" eval '[[ $(grep -c "configuration reloaded" "$DLOG") -gt $n ]]'
sleep 0.5
[[ $(http_code /api/status -H "Authorization: Bearer $TOKEN") == 200 ]] || fail "a token file others can read replaced the token on SIGHUP"
[[ $(http_code /api/status -H "Authorization: Bearer $OLD_TOKEN") == 401 ]] || fail "a token file others can read was used on SIGHUP"
grep -q 'token was not reloaded.*can be read by others' "$DLOG" || fail "the refused token file is not logged: $(tail -n 5 "$DLOG")"
printf '%s\n' "$TOKEN" >"$TOKEN_FILE"
chmod 600 "$TOKEN_FILE"
idb=$(post_job backup b)
[[ $(wait_job "$idb") == ok ]] || fail "backup of the new source b did not end ok"
note "SIGHUP ok"

# --- SIGTERM while a long job runs: shutdown_timeout (2 s), then the job is cancelled.
ids=$(post_job backup slow)
wait_until 20 "job $ids to run" eval '[[ $(job_state '"$ids"') == running ]]'
wait_until 10 "the slow command to start" eval 'descendants "$DPID" | xargs -r ps -o args= -p | grep -q "^sleep 30"'
idq=$(post_job backup slow)   # queued behind the running one
[[ $(job_state "$idq") == queued ]] || fail "a second job of slow is $(job_state "$idq"), want queued"
below=$(descendants "$DPID")
term_daemon
# While it waits for the running job, the API answers and refuses new jobs.
sleep 0.5
api POST /api/jobs '{"job": "backup", "source": "a"}'
[[ $CODE == 400 ]] && grep -q stopping "$OUT" || soft_fail "POST /api/jobs while stopping: HTTP $CODE $(cat "$OUT") (want 400 \"the daemon is stopping\")"
[[ $(http_code /healthz) == 200 ]] || soft_fail "/healthz while stopping: $(cat "$OUT")"
wait_daemon_exit 40
python3 -c "import sys; s = $STOP_SECONDS; sys.exit(0 if 1.5 <= s <= 15 else 1)" ||
  fail "SIGTERM with a running job: the daemon stopped after $STOP_SECONDS s (want shutdown_timeout 2 s, then a prompt cancel)"
grep -q 'cancelling the running jobs' "$DLOG" || fail "the daemon did not log the cancellation"
for p in $below; do
  if [[ $(ps -o stat= -p "$p" 2>/dev/null) == [^Z]* ]]; then
    fail "process $p ($(ps -o args= -p "$p")) of the cancelled job outlived the daemon"
  fi
done
rows=$(sqlite_query "$T/state/state.db" "SELECT id, state, error, end_ns > 0 FROM jobs WHERE id IN ($ids, $idq) ORDER BY id")
R=$rows python3 -c '
import json, os
(a, sa, ea, da), (q, sq, eq, dq) = json.loads(os.environ["R"])
assert sa == "cancelled" and ea and da == 1, ("the running job", a, sa, ea)
assert sq == "cancelled" and "stopped before the job started" in eq and dq == 1, ("the queued job", q, sq, eq)
' || fail "the jobs stopped by SIGTERM are recorded as $rows"
note "SIGTERM: stopped after $STOP_SECONDS s, job $ids recorded $rows"

# --- the repository is sound after the cancelled backup; status works without the daemon.
sr verify --repo "$REPO"
expect_exit 2 "$SR" run-now --config "$CFG" --job backup --source a
grep -q 'no daemon answers' "$ERR" || fail "run-now without a daemon: $(cat "$ERR")"
sr status --config "$CFG"
grep -q 'from the repositories (no daemon answers)' "$OUT" || fail "status without a daemon: $(cat "$OUT")"
grep -Eq '^a +ok +files ' "$OUT" || fail "status without a daemon: row of a: $(cat "$OUT")"
grep -Eq '^b +ok +files ' "$OUT" || fail "status without a daemon: row of b: $(cat "$OUT")"
sr status --config "$CFG" --json
json '
assert d["daemon"] is None, d
a = [s for s in d["sources"] if s["name"] == "a"][0]
assert a["state"] == "ok" and a["last_backup"]["type"] == "files" and a["age_s"] >= 0, a
' || fail "status --json without a daemon: $(head -c 2000 "$OUT")"

# --- a restart keeps the job history; ids go on.
start_daemon
api_ok GET "/api/jobs?limit=1000"
json '
ids = [j["id"] for j in d["jobs"]]
assert ids == sorted(ids, reverse=True), ids
assert len(ids) == 7, ids
' || fail "job history after a restart: $(head -c 2000 "$OUT")"
I=$ids json 'assert [j for j in d["jobs"] if j["id"] == int(os.environ["I"])][0]["state"] in ("cancelled", "failed")' ||
  fail "the cancelled job after a restart: $(cat "$OUT")"
last=$(json 'print(max(j["id"] for j in d["jobs"]))')
id5=$(post_job backup a)
[[ $id5 -eq $((last + 1)) ]] || fail "after a restart the next job id is $id5, want $((last + 1))"
[[ $(wait_job "$id5") == ok ]] || fail "backup after the restart did not end ok"
stop_daemon 30
sr verify --repo "$REPO"
# The token is in no log (the daemon's nor the jobs').
if grep -rlF -e "$TOKEN" -e "$OLD_TOKEN" "$T"/serve.*.log "$T"/serve.*.out "$T/state/logs" 2>/dev/null; then
  fail "a log holds the API token"
fi

finish_checks
