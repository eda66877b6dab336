#!/usr/bin/env bash
# strongroom serve: the scheduler. Two jobs of one source never overlap (the second, requested
# while the first runs, starts after it ended); a `* * * * *` schedule runs its backup at the
# minute boundary with trigger "schedule", once; a restart within that minute does not run it
# again. Waits for one minute boundary (up to 65 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

init_daemon_repo
mkdir -p "$T/tick"
echo tick >"$T/tick/file"
{
  daemon_yaml_head
  cat <<YAML
  max_concurrent_jobs: 4
sources:
  tick:
    type: files
    kind: configuration
    paths: [$T/tick]
    schedules: [{cron: "* * * * *"}]
  serial:
    type: command
    kind: export
    command: "sleep 2; echo serial"
YAML
} >"$CFG"
start_daemon

# --- two backups of one source requested at once: the second waits for the first.
api POST /api/jobs '{"job": "backup", "source": "serial"}' && j1=$(json 'print(d["id"])')
api POST /api/jobs '{"job": "backup", "source": "serial"}' && j2=$(json 'print(d["id"])')
[[ -n ${j1:-} && -n ${j2:-} ]] || fail "POST /api/jobs: $(cat "$OUT")"
# While the first runs, the second is queued (and /api/status counts it).
[[ $(job_state "$j2") == queued ]] || fail "job $j2 is $(job_state "$j2") while job $j1 of the same source runs"
api_ok GET /api/status
json 'assert d["daemon"]["queued_jobs"] == 1 and d["daemon"]["running_jobs"] == 1, d["daemon"]' ||
  fail "running/queued while two jobs of one source wait: $(head -c 600 "$OUT")"
[[ $(wait_job "$j1" 30) == ok ]] || fail "job $j1 did not end ok"
[[ $(wait_job "$j2" 30) == ok ]] || fail "job $j2 did not end ok"
api_ok GET "/api/jobs?source=serial"
A=$j1 B=$j2 json '
from datetime import datetime
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
j = {x["id"]: x for x in d["jobs"]}
a, b = j[int(os.environ["A"])], j[int(os.environ["B"])]
assert t(b["start"]) >= t(a["end"]), ("overlap", a, b)
assert t(b["queued"]) <= t(a["end"]), ("the second was not requested while the first ran", a, b)
assert a["duration_s"] >= 2 and b["duration_s"] >= 2, (a, b)
' || fail "two jobs of one source in /api/jobs: $(cat "$OUT")"
# The same to the nanosecond, from the state database.
rows=$(sqlite_query "$T/state/state.db" "SELECT id, start_ns, end_ns FROM jobs WHERE id IN ($j1, $j2) ORDER BY id")
R=$rows python3 -c '
import json, os
(a, s1, e1), (b, s2, e2) = json.loads(os.environ["R"])
assert s1 < e1 <= s2 < e2, (s1, e1, s2, e2)
' || fail "two jobs of one source overlap (state database: $rows)"
note "two jobs of one source ran one after the other"

# --- the minute boundary: one backup of tick with trigger "schedule".
scheduled() {  # prints the scheduled jobs of tick as "id queued" lines
  api_ok GET "/api/jobs?source=tick&limit=1000"
  json 'print("\n".join("%d %s %s" % (j["id"], j["queued"], j["state"]) for j in d["jobs"] if j["trigger"] == "schedule"))'
}
note "waiting for the minute boundary (now $(date -u +%H:%M:%S))"
wait_until 70 "a scheduled backup of tick" eval '[[ -n $(scheduled) ]]'
api_ok GET "/api/jobs?source=tick&limit=1000"
json '
js = d["jobs"]
assert len(js) == 1, ("one job of tick, want exactly one", js)
j = js[0]
assert j["trigger"] == "schedule" and j["job"] == "backup", j
sec = int(j["queued"][17:19])
assert sec <= 10, ("queued %d s after the minute boundary" % sec, j)
' || fail "the scheduled run: $(cat "$OUT")"
sid=$(json 'print(d["jobs"][0]["id"])')
[[ $(wait_job "$sid" 30) == ok ]] || fail "the scheduled backup $sid did not end ok: $(cat "$OUT")"
api_ok GET "/api/backups?source=tick"
[[ $(json 'print(len(d["backups"]))') == 1 ]] || fail "the scheduled backup is not in /api/backups: $(cat "$OUT")"
api_ok GET /api/status
json '
s = [s for s in d["sources"] if s["name"] == "tick"][0]
assert s["next_run"] and s["next_run"]["job"] == "backup" and s["next_run"]["at"].endswith(":00Z"), s
assert s["state"] == "ok", s
' || fail "tick in /api/status after its scheduled run: $(head -c 1500 "$OUT")"
minute=$(date -u +%M)
sleep 2
[[ $(scheduled | grep -c .) == 1 ]] || fail "more than one scheduled run in one minute: $(scheduled)"

# --- a restart within the same minute does not run the minute's backup again.
stop_daemon 30
start_daemon
sleep 3
if [[ $(date -u +%M) == "$minute" ]]; then
  api_ok GET "/api/jobs?source=tick&limit=1000"
  [[ $(json 'print(len(d["jobs"]))') == 1 ]] ||
    fail "a restart within the minute ran tick's backup again: $(cat "$OUT")"
else
  note "the restart crossed a minute boundary: the same-minute check is skipped"
fi
stop_daemon 30

pass
