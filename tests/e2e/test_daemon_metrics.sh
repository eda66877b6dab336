#!/usr/bin/env bash
# strongroom serve: GET /metrics after real backups, parsed with the Prometheus client library
# (Debian's python3-prometheus-client): every family of docs/daemon.md's Metrics table is
# declared with its type and no other family is; samples carry exactly the documented labels;
# the backup series of each source have sane values (the newest backup's end to the second,
# its size, last status 1 after a success and 0 after a failure, the failure counter).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

PY=/usr/bin/python3   # Debian's python, where python3-prometheus-client installs
if ! "$PY" -c 'import prometheus_client' 2>/dev/null; then
  note "installing python3-prometheus-client"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-prometheus-client >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-prometheus-client >/dev/null; } ||
    fail "python3-prometheus-client is not installed and could not be installed"
fi

init_daemon_repo
mkdir -p "$T/etc"
gen_tree "$T/etc" 200
{
  daemon_yaml_head
  cat <<YAML
sources:
  etc:
    type: files
    kind: configuration
    paths: [$T/etc]
    verify: {max_age: 2h}
    rpo: 3h
  dump:
    type: command
    kind: export
    command: "seq 1 50000"
  broken:
    type: command
    kind: export
    command: "echo no >&2; exit 1"
YAML
} >"$CFG"
start_daemon

# Without the token: 401.
[[ $(http_code /metrics) == 401 ]] || fail "/metrics without a token: $(cat "$OUT")"

for s in etc dump etc; do
  id=$(post_job backup $s)
  [[ $(wait_job "$id") == ok ]] || fail "backup of $s did not end ok"
done
id=$(post_job backup broken)
[[ $(wait_job "$id") == failed ]] || fail "backup of broken did not fail"
# The snapshot and the rendered metrics follow within a few seconds.
wait_until 20 "the backups in /metrics" eval \
  'api_ok GET /metrics; grep -q "^strongroom_backup_size_bytes{.*source=\"dump\"" "$OUT" && grep -q "^strongroom_backup_last_status{.*source=\"broken\".* 0$" "$OUT"'
cp "$OUT" "$T/metrics.txt"
ctype=$(curl -s -m 10 -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $TOKEN" "$BASE/metrics")
[[ $ctype == "text/plain; version=0.0.4"* ]] || fail "/metrics content type: $ctype"
api_ok GET "/api/backups"
cp "$OUT" "$T/backups.json"
now=$(date +%s)
stop_daemon 30

# The newest backups' exact end times and sizes, from the repository.
sr backups --repo "$REPO" --json
cp "$OUT" "$T/repo-backups.json"

rc=0
"$PY" - "$SR_SOURCE_DIR/docs/daemon.md" "$T/metrics.txt" "$T/backups.json" "$now" <<'EOF' || rc=$?
import json, re, sys
from prometheus_client.parser import text_string_to_metric_families

doc_path, metrics_path, backups_path, now = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
doc = open(doc_path).read()
text = open(metrics_path).read()
api_backups = json.load(open(backups_path))["backups"]
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

# The Metrics table of docs/daemon.md: | `name` | type | labels | value |
section = doc.split("\n## Metrics", 1)[1].split("\n## ", 1)[0]
documented = {}
for line in section.splitlines():
    m = re.match(r"\|\s*`(strongroom_[a-z_]+)`\s*\|\s*(\w+)\s*\|\s*([^|]*)\|", line)
    if m:
        labels = m.group(3).strip()
        documented[m.group(1)] = (m.group(2), set() if labels in ("—", "-", "") else
                                  {l.strip() for l in labels.split(",")})
check(len(documented) >= 17, "docs/daemon.md's Metrics table: only %d metrics found" % len(documented))

families = {}
for f in text_string_to_metric_families(text):
    # The client library names a counter's family without _total.
    name = f.name + "_total" if f.type == "counter" and not f.name.endswith("_total") else f.name
    families[name] = f
for name, (typ, labels) in sorted(documented.items()):
    f = families.get(name)
    if f is None:
        errors.append("%s: documented but not declared in /metrics" % name)
        continue
    check(f.type == typ, "%s: type %s, documented %s" % (name, f.type, typ))
    for s in f.samples:
        check(set(s.labels) == labels, "%s: sample labels %s, documented %s" % (name, sorted(s.labels), sorted(labels)))
for name in families:
    check(name in documented, "%s: in /metrics but not in docs/daemon.md's table" % name)
# Every family is declared with HELP and TYPE.
for name in documented:
    check(re.search(r"^# HELP %s \S" % name, text, re.M), "%s: no # HELP line" % name)
    check(re.search(r"^# TYPE %s " % name, text, re.M), "%s: no # TYPE line" % name)

def samples(name, **want):
    f = families.get(name)
    if not f:
        return []
    return [s for s in f.samples if all(s.labels.get(k) == v for k, v in want.items())]

def one(name, **want):
    got = samples(name, **want)
    check(len(got) == 1, "%s%s: %d samples, want 1" % (name, want, len(got)))
    return got[0].value if got else None

def newest(source):
    bs = [b for b in api_backups if b["source"] == source]
    return bs[0] if bs else None  # newest first

from datetime import datetime, timezone
def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()

for source, kind, typ in (("etc", "configuration", "files"), ("dump", "export", "command")):
    lab = dict(source=source, kind=kind, repository="primary", type=typ)
    b = newest(source)
    check(b is not None, "%s: no backup in /api/backups" % source)
    if not b:
        continue
    end = one("strongroom_backup_last_success_timestamp_seconds", **lab)
    if end is not None:
        # The API's end is truncated to the second: the metric lies in [end, end + 1).
        check(ts(b["end"]) - 0.001 <= end < ts(b["end"]) + 1.001,
              "%s: last success timestamp %r, the newest backup ended %s" % (source, end, b["end"]))
        check(0 <= now - end < 300, "%s: last success timestamp %r is not close to now (%r)" % (source, end, now))
    size = one("strongroom_backup_size_bytes", **lab)
    check(size is not None and size > 0 and size == b["size_bytes"],
          "%s: size %r, /api/backups says %r" % (source, size, b["size_bytes"]))
    added = one("strongroom_backup_added_bytes", **lab)
    check(added is not None and added == b["added_bytes"], "%s: added %r, /api/backups says %r" % (source, added, b["added_bytes"]))
    dur = one("strongroom_backup_duration_seconds", **lab)
    check(dur is not None and 0 <= dur < 120 and abs(dur - b["duration_s"]) < 0.01,
          "%s: duration %r, /api/backups says %r" % (source, dur, b["duration_s"]))
    check(one("strongroom_backup_last_status", **lab) == 1, "%s: last status is not 1" % source)
    lab3 = dict(source=source, kind=kind, repository="primary")
    check(one("strongroom_backup_failures_total", **lab3) == 0, "%s: failures_total is not 0" % source)
    rpo = one("strongroom_rpo_seconds", **lab3)
    check(rpo is not None and 0 <= rpo < 300, "%s: rpo_seconds %r" % (source, rpo))

check(one("strongroom_backup_last_status", source="broken", kind="export", repository="primary", type="command") == 0,
      "broken: last status is not 0 after a failed backup")
check(one("strongroom_backup_failures_total", source="broken", kind="export", repository="primary") == 1,
      "broken: failures_total is not 1")
check(not samples("strongroom_backup_last_success_timestamp_seconds", source="broken"),
      "broken: a last success timestamp without a backup")
check(one("strongroom_max_age_seconds", source="etc", kind="configuration", repository="primary") == 7200, "etc: max_age_seconds")
check(one("strongroom_rpo_target_seconds", source="etc", kind="configuration", repository="primary") == 3 * 3600, "etc: rpo_target_seconds")
check(one("strongroom_up") == 1, "strongroom_up")
refresh = one("strongroom_catalog_refresh_timestamp_seconds")
check(refresh is not None and abs(now - refresh) < 60, "catalog refresh timestamp %r is not close to now %r" % (refresh, now))
check(one("strongroom_repository_backups", repository="primary") == 3, "repository_backups")
check((one("strongroom_repository_size_bytes", repository="primary") or 0) > 0, "repository_size_bytes")
check(one("strongroom_repository_estimated_monthly_cost", repository="primary") == 0, "estimated cost without cost_per_gib_month")
check(not families.get("strongroom_replication_lag_seconds") or not families["strongroom_replication_lag_seconds"].samples,
      "replication lag without a replica")
# strongroom_job_running: one sample per kind of job, nothing running now.
jr = families.get("strongroom_job_running")
if jr:
    (label,) = documented["strongroom_job_running"][1] or {"?"}
    kinds = {s.labels.get(label) for s in jr.samples}
    check(kinds == {"backup", "verify", "restore-test", "expire", "prune", "replicate"}, "job_running kinds: %s" % kinds)
    check(all(s.value == 0 for s in jr.samples), "job_running is not 0 with nothing running")
sev = {s.labels.get("severity"): s.value for s in samples("strongroom_alerts_firing")}
check(set(sev) == {"critical", "warning"}, "alerts_firing severities: %s" % sev)
check(sev.get("critical", 0) >= 1, "alerts_firing: the failed backup's critical alert is not counted: %s" % sev)

# Timestamps must keep their precision: at least 10 significant digits (whole seconds).
for m in re.finditer(r"^(strongroom_\w*timestamp_seconds)(\{[^}]*\})? (\S+)$", text, re.M):
    digits = len(re.sub(r"[^0-9]", "", m.group(3).split("e")[0].lstrip("0.")))
    check(digits >= 10 and "e" not in m.group(3).lower(),
          "%s%s %s: a Unix time printed with %d significant digits (not to the second)" % (m.group(1), m.group(2) or "", m.group(3), digits))

for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
if [[ $rc -ne 0 ]]; then
  echo "--- /metrics:" >&2
  cat "$T/metrics.txt" >&2
  fail "/metrics does not match docs/daemon.md (the problems are listed above)"
fi

pass
