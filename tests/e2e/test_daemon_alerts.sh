#!/usr/bin/env bash
# strongroom serve: alerts and notifiers. A webhook (a local HTTP server recording what it is
# sent), an e-mail notifier (a local SMTP sink, Debian's python3-aiosmtpd) and a command
# notifier, routed by severity. backup_failed fires on a failed backup and resolves after a
# good one (firing and resolved messages reach all three, once each); backup_stale
# (verify.max_age 2s) and backup_size_changed (the source's size_median_of: 3) fire as warnings
# and reach the webhook only; a webhook that refuses a message is retried alone (the others get
# it once); a message that could not be delivered while the webhook was down arrives once it is
# up, also across a restart of the daemon (which must still stop promptly meanwhile).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

PY=/usr/bin/python3   # Debian's python, where python3-aiosmtpd installs
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
  note "installing python3-aiosmtpd"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd >/dev/null; } ||
    fail "python3-aiosmtpd is not installed and could not be installed"
fi

HOOK_PORT=$(free_port)
MAIL_PORT=$(free_port)
HOOK_LOG=$T/webhook.jsonl   # one line per POST: {"path", "content_type", "user_agent", "status", "body"}
HOOK_STATUS=$T/webhook.status  # the status the webhook answers (204 when absent)
MAIL_LOG=$T/mail.txt        # aiosmtpd's Debugging handler prints every message
CMD_LOG=$T/cmd-alerts.jsonl
: >"$HOOK_LOG"
: >"$CMD_LOG"

cat >"$T/webhook.py" <<'EOF'
import http.server, json, sys
port, out, status_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        try:
            status = int(open(status_file).read())
        except (OSError, ValueError):
            status = 204
        rec = {"path": self.path, "content_type": self.headers.get("Content-Type"),
               "user_agent": self.headers.get("User-Agent"), "status": status, "body": parsed}
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

listening() {  # listening PORT
  python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1" 2>/dev/null
}
start_webhook() {
  bg webhook "$PY" "$T/webhook.py" "$HOOK_PORT" "$HOOK_LOG" "$HOOK_STATUS"
  HOOK_PID=$BG_PID
  wait_until 15 "the webhook server" listening "$HOOK_PORT"
}
stop_webhook() {
  stop_bg "$HOOK_PID"
  wait_until 10 "the webhook server to stop" eval '! listening '"$HOOK_PORT"
}
start_webhook
bg smtp "$PY" -u -m aiosmtpd -n -l "127.0.0.1:$MAIL_PORT" >"$MAIL_LOG" 2>"$T/smtp.err"
wait_until 15 "the SMTP sink" listening "$MAIL_PORT"

init_daemon_repo
mkdir -p "$T/fresh"
echo fresh >"$T/fresh/file"
echo 1048576 >"$T/size"
write_cfg() {  # write_cfg FLAKY_COMMAND
  {
    daemon_yaml_head
    cat <<YAML
notify:
  hook: {webhook: {url: "http://127.0.0.1:$HOOK_PORT/alert"}}
  mail:
    email: {smtp_url: "smtp://127.0.0.1:$MAIL_PORT", from: strongroom@example.test, to: [ops@example.test]}
  cmd: {command: "cat >> $CMD_LOG"}
alerts:
  routes:
    - {severity: [critical], notify: [hook, mail, cmd]}
    - {severity: warning, notify: [hook]}
sources:
  flaky:
    type: command
    kind: export
    command: "$1"
  fresh:
    type: files
    kind: configuration
    paths: [$T/fresh]
    verify: {max_age: 2s}
  sized:
    type: command
    kind: export
    command: "yes strongroom | head -c \$(cat $T/size)"
    alerts: {size_median_of: 3}
  other:
    type: command
    kind: export
    command: "echo other-failed >&2; exit 1"
  late:
    type: command
    kind: export
    command: "echo late-failed >&2; exit 1"
YAML
  } >"$CFG"
}
BROKEN='echo the-export-failed >&2; exit 1'
FIXED='echo export-ok'
write_cfg "$BROKEN"
start_daemon

# Helpers over what the sinks received.
hook_count() {  # hook_count EVENT RULE SOURCE [ALERT_ID]
  E=$1 R=$2 S=$3 I=${4:-} python3 -c '
import json, os
n = 0
for line in open(os.environ["HOOK_LOG"]):
    r = json.loads(line)
    b = r["body"]
    if r["status"] // 100 == 2 and (b.get("event"), b.get("rule"), b.get("source")) == (os.environ["E"], os.environ["R"], os.environ["S"]) \
       and (not os.environ["I"] or b.get("id") == int(os.environ["I"])):
        n += 1
print(n)'
}
hook_tries() {  # hook_tries RULE SOURCE: requests the webhook got for them, whatever it answered
  R=$1 S=$2 python3 -c '
import json, os
print(sum(1 for line in open(os.environ["HOOK_LOG"])
          if (json.loads(line)["body"].get("rule"), json.loads(line)["body"].get("source")) == (os.environ["R"], os.environ["S"])))'
}
cmd_count() {  # cmd_count EVENT RULE SOURCE [ALERT_ID]
  E=$1 R=$2 S=$3 I=${4:-} python3 -c '
import json, os
n = 0
for line in open(os.environ["CMD_LOG"]):
    if not line.strip():
        continue
    b = json.loads(line)
    if (b.get("event"), b.get("rule"), b.get("source")) == (os.environ["E"], os.environ["R"], os.environ["S"]) \
       and (not os.environ["I"] or b.get("id") == int(os.environ["I"])):
        n += 1
print(n)'
}
mail_count() {  # mail_count SUBJECT
  grep -cxF "Subject: $1" "$MAIL_LOG" || true
}
export HOOK_LOG CMD_LOG
alert_field() {  # alert_field RULE SOURCE FIELD: of the newest such alert in /api/alerts
  api_ok GET /api/alerts
  R=$1 S=$2 F=$3 json '
m = [a for a in d["alerts"] if a["rule"] == os.environ["R"] and a["source"] == os.environ["S"]]
m.sort(key=lambda a: a["id"])
print(m[-1][os.environ["F"]] if m else "none")'
}

# --- backup_failed fires: /api/alerts, the webhook, the e-mail, the command.
id=$(post_job backup flaky)
[[ $(wait_job "$id") == failed ]] || fail "the backup of flaky did not fail"
wait_until 15 "backup_failed firing in /api/alerts" eval '[[ $(alert_field backup_failed flaky state) == firing ]]'
a1=$(alert_field backup_failed flaky id)
[[ $(alert_field backup_failed flaky severity) == critical ]] || fail "backup_failed is not critical"
alert_field backup_failed flaky summary | grep -q the-export-failed || fail "the summary lacks the job's error: $(alert_field backup_failed flaky summary)"
wait_until 20 "the firing message at the webhook" eval '[[ $(hook_count firing backup_failed flaky "$a1") -ge 1 ]]'
wait_until 20 "the firing e-mail" eval '[[ $(mail_count "[strongroom] FIRING critical backup_failed flaky") -ge 1 ]]'
wait_until 20 "the firing message to the command" eval '[[ $(cmd_count firing backup_failed flaky "$a1") -ge 1 ]]'
python3 - <<'EOF' || fail "the webhook request: $(head -n 3 "$HOOK_LOG")"
import json, os
r = json.loads(open(os.environ["HOOK_LOG"]).readline())
assert r["status"] == 204, r
assert r["path"] == "/alert" and r["content_type"].startswith("application/json") and r["user_agent"] == "strongroom", r
b = r["body"]
for k in ("event", "id", "rule", "source", "severity", "state", "summary", "since", "host"):
    assert k in b, (k, b)
assert b["state"] == "firing" and b["severity"] == "critical" and "resolved_at" not in b, b
EOF
grep -q '^To: ops@example.test' "$MAIL_LOG" && grep -q '^From: strongroom@example.test' "$MAIL_LOG" ||
  fail "the e-mail's headers: $(head -n 20 "$MAIL_LOG")"
grep -q 'the-export-failed' "$MAIL_LOG" || fail "the e-mail lacks the summary: $(head -n 30 "$MAIL_LOG")"
api_ok GET /api/alerts
A=$a1 json 'a = [a for a in d["alerts"] if a["id"] == int(os.environ["A"])][0]; assert a["last_notified"] and a["since"] and a["resolved_at"] is None, a' ||
  fail "the delivered alert in /api/alerts: $(cat "$OUT")"
note "backup_failed fired and was delivered to the webhook, the e-mail and the command"

# --- the source is fixed (SIGHUP) and backs up: the alert resolves everywhere.
write_cfg "$FIXED"
kill -HUP "$DPID"
wait_until 10 "the reload" grep -q 'configuration reloaded' "$DLOG"
id=$(post_job backup flaky)
[[ $(wait_job "$id") == ok ]] || fail "the fixed backup of flaky did not end ok"
wait_until 15 "backup_failed resolved in /api/alerts" eval '[[ $(alert_field backup_failed flaky state) == resolved ]]'
[[ $(alert_field backup_failed flaky resolved_at) != None ]] || fail "a resolved alert without resolved_at"
wait_until 20 "the resolved message at the webhook" eval '[[ $(hook_count resolved backup_failed flaky "$a1") -ge 1 ]]'
wait_until 20 "the resolved e-mail" eval '[[ $(mail_count "[strongroom] RESOLVED critical backup_failed flaky") -ge 1 ]]'
wait_until 20 "the resolved message to the command" eval '[[ $(cmd_count resolved backup_failed flaky "$a1") -ge 1 ]]'
# With every notifier up, each message is delivered exactly once.
for ev in firing resolved; do
  [[ $(hook_count $ev backup_failed flaky "$a1") == 1 ]] || fail "the webhook got the $ev message $(hook_count $ev backup_failed flaky "$a1") times"
  [[ $(cmd_count $ev backup_failed flaky "$a1") == 1 ]] || fail "the command got the $ev message $(cmd_count $ev backup_failed flaky "$a1") times"
done
[[ $(mail_count "[strongroom] FIRING critical backup_failed flaky") == 1 ]] || fail "more than one firing e-mail"
[[ $(mail_count "[strongroom] RESOLVED critical backup_failed flaky") == 1 ]] || fail "more than one resolved e-mail"
note "backup_failed resolved and the resolution was delivered"

# --- backup_stale: a backup older than verify.max_age (2 s); a warning, for the webhook only.
id=$(post_job backup fresh)
[[ $(wait_job "$id") == ok ]] || fail "the backup of fresh did not end ok"
wait_until 20 "backup_stale firing" eval '[[ $(alert_field backup_stale fresh state) == firing ]]'
[[ $(alert_field backup_stale fresh severity) == warning ]] || fail "backup_stale is not a warning"
wait_until 20 "backup_stale at the webhook" eval '[[ $(hook_count firing backup_stale fresh) -ge 1 ]]'
sleep 1
[[ $(cmd_count firing backup_stale fresh) == 0 ]] || fail "a warning reached the command notifier (routed to critical only)"
[[ $(mail_count "[strongroom] FIRING warning backup_stale fresh") == 0 ]] || fail "a warning reached the e-mail notifier"
note "backup_stale fired (warning, webhook only)"

# --- backup_size_changed against the median of the source's last 3 (sources.sized.alerts.
# size_median_of; the global default is 7): 4, 4, 4 MiB, then 1 MiB fires; after three of
# 1 MiB the median of the last 3 is 1 MiB and the alert resolves (the median of all 6 would be
# 2.5 MiB: still firing); then 3 MiB fires again (against 1 MiB; all 7: 2.5 MiB, +20 %).
size_backup() {  # size_backup BYTES
  echo "$1" >"$T/size"
  local id
  id=$(post_job backup sized)
  [[ $(wait_job "$id") == ok ]] || fail "the $1-byte backup of sized did not end ok"
}
MiB=1048576
for i in 1 2 3; do size_backup $((4 * MiB)); done
sleep 1.5
[[ $(alert_field backup_size_changed sized state) == none ]] || fail "backup_size_changed fired for backups of one size"
size_backup $MiB
wait_until 20 "backup_size_changed firing (1 MiB after 4 MiB)" eval '[[ $(alert_field backup_size_changed sized state) == firing ]]'
s1=$(alert_field backup_size_changed sized id)
[[ $(alert_field backup_size_changed sized severity) == warning ]] || fail "backup_size_changed is not a warning"
alert_field backup_size_changed sized summary | grep -q -- '-75 %' || fail "size summary: $(alert_field backup_size_changed sized summary)"
wait_until 20 "backup_size_changed at the webhook" eval '[[ $(hook_count firing backup_size_changed sized "$s1") -ge 1 ]]'
size_backup $MiB
size_backup $MiB
api_ok GET "/api/backups?source=sized"
json 'b = d["backups"]; assert len(b) == 6 and b[0]["size_median"] == 1048576, [(x["size_bytes"], x["size_median"]) for x in b]' ||
  soft_fail "sources.sized.alerts.size_median_of: 3 is not applied (size_median of the newest, want 1 MiB): $(head -c 1500 "$OUT")"
if ! wait_until_soft 20 eval '[[ $(alert_field backup_size_changed sized state) == resolved ]]'; then
  soft_fail "backup_size_changed did not resolve once the median of the last 3 (size_median_of: 3) matched"
fi
size_backup $((3 * MiB))
wait_until 20 "backup_size_changed firing (3 MiB after 1 MiB)" eval \
  '[[ $(alert_field backup_size_changed sized state) == firing && $(alert_field backup_size_changed sized id) != "$s1" ]]'
alert_field backup_size_changed sized summary | grep -q '200 %' || fail "size summary: $(alert_field backup_size_changed sized summary)"
api_ok GET "/api/backups?source=sized"
json '
b = d["backups"]
assert len(b) == 7, b
assert b[0]["size_bytes"] == 3 * 1048576 and b[0]["size_median"] == 1048576, b[0]
assert [x["size_median"] for x in b[-3:]] == [None, None, None], b[-3:]
' || fail "sizes and medians in /api/backups: $(cat "$OUT")"
note "backup_size_changed fired, resolved and fired again"

# --- a webhook that refuses the message (HTTP 400, not retried by the client) is retried
# alone at the next refreshes: the e-mail and the command get the message once.
echo 400 >"$HOOK_STATUS"
id=$(post_job backup other)
[[ $(wait_job "$id") == failed ]] || fail "the backup of other did not fail"
wait_until 15 "backup_failed of other firing" eval '[[ $(alert_field backup_failed other state) == firing ]]'
ao=$(alert_field backup_failed other id)
wait_until 20 "the command to get other's alert" eval '[[ $(cmd_count firing backup_failed other "$ao") -ge 1 ]]'
wait_until 20 "the webhook to be tried again" eval '[[ $(hook_tries backup_failed other) -ge 3 ]]'
[[ $(alert_field backup_failed other last_notified) == None ]] || fail "an alert the webhook refused is marked notified"
rm -f "$HOOK_STATUS"
wait_until 20 "the webhook to take other's alert" eval '[[ $(hook_count firing backup_failed other "$ao") == 1 ]]'
wait_until 20 "other's alert marked notified" eval '[[ $(alert_field backup_failed other last_notified) != None ]]'
sleep 1.5
n_cmd=$(cmd_count firing backup_failed other "$ao")
n_mail=$(mail_count "[strongroom] FIRING critical backup_failed other")
[[ $n_cmd == 1 && $n_mail == 1 ]] ||
  soft_fail "while the webhook refused the message, the others got it again: command $n_cmd times, e-mail $n_mail times (want 1)"
note "a refusing webhook was retried alone"

# --- the webhook is down when an alert fires: delivered once it is up again.
stop_webhook
write_cfg "$BROKEN"
kill -HUP "$DPID"
wait_until 10 "the second reload" eval '[[ $(grep -c "configuration reloaded" "$DLOG") -ge 2 ]]'
id=$(post_job backup flaky)
[[ $(wait_job "$id") == failed ]] || fail "the broken backup of flaky did not fail"
wait_until 15 "a new backup_failed alert" eval '[[ $(alert_field backup_failed flaky state) == firing ]]'
a2=$(alert_field backup_failed flaky id)
[[ $a2 != "$a1" ]] || fail "the second failure did not make a new alert"
sleep 2
[[ $(alert_field backup_failed flaky last_notified) == None ]] || fail "an alert that the webhook could not get is marked notified"
start_webhook
wait_until 40 "the firing message after the webhook came back" eval '[[ $(hook_count firing backup_failed flaky "$a2") -ge 1 ]]'
wait_until 20 "the alert marked notified" eval '[[ $(alert_field backup_failed flaky last_notified) != None ]]'
[[ $(cmd_count firing backup_failed flaky "$a2") -ge 1 ]] || fail "the command did not get the alert the webhook got late"
note "an alert fired while the webhook was down was delivered when it came back"

# --- across a restart: the webhook is down, an alert fires, the daemon stops; after the
# restart (webhook up) the firing message arrives.
stop_webhook
id=$(post_job backup late)
[[ $(wait_job "$id") == failed ]] || fail "the backup of late did not fail"
wait_until 15 "backup_failed of late firing" eval '[[ $(alert_field backup_failed late state) == firing ]]'
a3=$(alert_field backup_failed late id)
term_daemon
deadline=$((SECONDS + 15))
while kill -0 "$DPID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
if kill -0 "$DPID" 2>/dev/null; then
  soft_fail "SIGTERM with nothing running and the webhook unreachable: the daemon was still running after 15 s (shutdown_timeout 2 s); killed"
  kill_daemon
else
  wait "$DPID" || fail "serve exited non-zero after SIGTERM"
fi
[[ $(hook_count firing backup_failed late "$a3") == 0 ]] || fail "the webhook got a message while it was down?"
start_webhook
start_daemon
wait_until 40 "the firing message of late after the restart" eval '[[ $(hook_count firing backup_failed late "$a3") -ge 1 ]]'
api_ok GET /api/alerts
A=$a3 json 'a = [a for a in d["alerts"] if a["id"] == int(os.environ["A"])][0]; assert a["state"] == "firing" and a["last_notified"], a' ||
  fail "the alert delivered after the restart: $(cat "$OUT")"
# The alerts that were delivered before the restart are not sent again.
[[ $(hook_count firing backup_failed flaky "$a2") == 1 ]] || fail "the restart sent the delivered alert $a2 again"
[[ $(hook_count firing backup_stale fresh) == 1 ]] || fail "the restart sent backup_stale again"
note "an undelivered alert was delivered after a restart"
stop_daemon 30

finish_checks
