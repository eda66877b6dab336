#!/usr/bin/env bash
# strongroom serve: the dashboard in a real browser (headless Chromium through playwright-core,
# tests/e2e/browser/dashboard_check.mjs) against a daemon with real backups of two sources
# (several each, so the charts have data) and a job history: sign-in, status rows, charts,
# jobs and their logs, no console error, no failed request, the token never in a URL. The
# screenshot is kept as a test artifact (${SR_ARTIFACT_DIR:-build/test-artifacts}).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/daemon_lib.sh"

CHECK=$SR_SOURCE_DIR/tests/e2e/browser/dashboard_check.mjs
CHROMIUM_BIN=${CHROMIUM:-/usr/bin/chromium}
missing=()
command -v node >/dev/null || missing+=("node")
[[ -x $CHROMIUM_BIN ]] || missing+=("chromium ($CHROMIUM_BIN)")
[[ -d $SR_SOURCE_DIR/tests/servers/node_modules/playwright-core ]] || missing+=("playwright-core (npm ci --prefix tests/servers)")
if ((${#missing[@]})); then
  if [[ ${CI:-} == true ]]; then
    fail "the browser test needs: ${missing[*]} (CI=true: not skipped)"
  fi
  echo "SKIP [$TEST_NAME]: not available here: ${missing[*]} (./run test installs them)"
  exit 0
fi

ARTIFACT_DIR=${SR_ARTIFACT_DIR:-$SR_SOURCE_DIR/build/test-artifacts}
mkdir -p "$ARTIFACT_DIR"

init_daemon_repo
mkdir -p "$T/a" "$T/b"
gen_tree "$T/a" 128
gen_tree "$T/b" 32
{
  daemon_yaml_head
  cat <<YAML
sources:
  a:
    type: files
    kind: configuration
    paths: [$T/a]
    schedules: [{cron: "0 3 * * *"}]
  b:
    type: files
    kind: volume
    paths: [$T/b]
YAML
} >"$CFG"
start_daemon

# Three backups of each source, each a little larger than the one before.
for i in 1 2 3; do
  head -c $((i * 64 * 1024)) /dev/urandom >"$T/a/grow.bin"
  head -c $((i * 16 * 1024)) /dev/urandom >"$T/b/grow.bin"
  ja=$(post_job backup a)
  jb=$(post_job backup b)
  [[ $(wait_job "$ja") == ok ]] || fail "backup $i of a did not end ok"
  [[ $(wait_job "$jb") == ok ]] || fail "backup $i of b did not end ok"
done
# A log worth showing: a verify job of the repository.
jv=$(post_job verify "")
[[ $(wait_job "$jv") == ok ]] || fail "the verify job did not end ok: $(cat "$OUT")"
wait_until 20 "six backups in /api/backups" eval \
  'api_ok GET /api/backups; json_q "assert len(d[\"backups\"]) == 6"'

rm -f "$ARTIFACT_DIR/dashboard.png"
rc=0
timeout -k 10 200 node "$CHECK" --url "$BASE" --token "$TOKEN" \
  --screenshot "$ARTIFACT_DIR/dashboard.png" --timing-out "$T/first-render-ms" \
  --timeout-ms 60000 --expect-source a --expect-source b >"$T/check.out" 2>"$T/check.err" || rc=$?
cat "$T/check.out"
if [[ $rc -ne 0 ]]; then
  cat "$T/check.err" >&2
  fail "dashboard_check.mjs failed (exit $rc)"
fi
grep -q '^dashboard: ok' "$T/check.out" || fail "dashboard_check.mjs did not report ok: $(cat "$T/check.out" "$T/check.err")"
[[ -s $ARTIFACT_DIR/dashboard.png ]] || fail "no screenshot at $ARTIFACT_DIR/dashboard.png"
[[ $(head -c 8 "$ARTIFACT_DIR/dashboard.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
  fail "$ARTIFACT_DIR/dashboard.png is not a PNG"
(($(stat -c %s "$ARTIFACT_DIR/dashboard.png") > 20000)) || fail "the screenshot is suspiciously small"
note "screenshot: $ARTIFACT_DIR/dashboard.png; first render $(cat "$T/first-render-ms") ms"
# The page's requests never made the daemon log the token.
if grep -qF "$TOKEN" "$DLOG"; then fail "the daemon's log holds the token"; fi
stop_daemon 30

pass
