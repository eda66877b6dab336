#!/usr/bin/env bash
# Configuration file, --source, expire with holds and --keep-tag, and what other clients see.
source "$(dirname "$0")/lib.sh"

init_repo
mkdir -p "$T/etc" "$T/certs"
gen_tree "$T/etc" 64
echo cert >"$T/certs/ca.pem"

CFG=$T/strongroom.yaml
cat >"$CFG" <<YAML
repositories:
  primary:
    url: $REPO
    password_file: $STRONGROOM_PASSWORD_FILE
sources:
  etc:
    type: files
    kind: configuration
    paths: [$T/etc]
    schedules: [{cron: "0 2 * * *"}]
    retention: {keep_last: 2}
  certs:
    type: files
    kind: certificates
    paths: [$T/certs]
  inventory:
    type: command
    kind: infrastructure
    command: "echo inventory; date +%N"
retention:
  infrastructure: {keep_within: 1h}
YAML

# --- config check: valid, and what it would do; errors name file:line and key.
sr config check --config "$CFG" --now 2026-12-01T01:00:00Z
grep -q "configuration $CFG is valid" "$OUT" || fail "config check: $(cat "$OUT")"
grep -q 'next 2026-12-01T02:00:00Z' "$OUT" || fail "config check shows no next run: $(cat "$OUT")"
grep -q 'retention: keep last 2' "$OUT" || fail "config check retention: $(cat "$OUT")"
sed 's/keep_last: 2/keep_lsat: 2/' "$CFG" >"$T/bad.yaml"
expect_exit 2 "$SR" config check --config "$T/bad.yaml"
grep -q "bad.yaml:11:17:.*sources.etc.retention.keep_lsat: unknown key" "$ERR" || fail "unknown key: $(cat "$ERR")"
sed 's/0 2 \* \* \*/0 25 * * */' "$CFG" >"$T/bad.yaml"
expect_exit 2 "$SR" config check --config "$T/bad.yaml"
grep -q "bad.yaml:10:.*schedules\[0\].cron: bad cron expression '0 25 \* \* \*': hour field" "$ERR" || fail "bad cron: $(cat "$ERR")"
# A backup refuses to start on a bad file.
expect_exit 2 "$SR" backup --config "$T/bad.yaml" --source etc

# --- backups by source name (the repository, password and paths come from the file).
unset STRONGROOM_PASSWORD_FILE
for i in 1 2 3 4; do
  echo "change $i" >"$T/etc/changing.txt"
  STRONGROOM_CONFIG=$CFG sr backup --source etc --tag "run$i" --json
done
STRONGROOM_CONFIG=$CFG sr backup --source certs --json
STRONGROOM_CONFIG=$CFG sr backup --source inventory --json
inv=$(json 'print(d["id"])')
[[ $(json 'print(d.get("config_source"))') == inventory ]] || fail "config_source not recorded"
# A files backup made with flags, not through the configuration, belongs to its source by paths.
sr backup --repo "$REPO" --password-file "$T/password" --path "$T/etc" --tag flags --json
flags_id=$(json 'print(d["id"])')
sr backups --config "$CFG" --json
[[ $(json 'print(len(d))') == 7 ]] || fail "expected 7 backups: $(cat "$OUT" "$ERR")"
json 'print(all(b.get("config_source") in ("etc", "certs", "inventory", None) for b in d))' | grep -q True || fail "config_source"
ids_etc=$(X=$T/etc json 'print(" ".join(b["id"] for b in d if b["source"] == os.environ["X"]))')

STRONGROOM_CACHE_DIR=$T/cache2 sr backups --config "$CFG" --json  # a second client sees all 7

# --- hold the oldest etc backup; keep-tag run2.
oldest=$(X=$T/etc json 'print([b["id"] for b in d if b["source"] == os.environ["X"]][0])')
sr hold --config "$CFG" "$oldest" --reason "legal: case 42"
sr hold --config "$CFG" --list --json
[[ $(json 'print(d[0]["hold"]["reason"])') == "legal: case 42" ]] || fail "hold list"

# --- dry run explains every decision and removes nothing.
sr expire --config "$CFG" --dry-run --json --keep-tag run2 --now 2030-01-01T00:00:00Z
json 'print(d["dry_run"])' | grep -q True || fail "dry run flag"
# etc: 5 backups (4 + flags): last 2 kept (flags, run4), run2 by tag, run1 by hold, run3 removed.
[[ $(json 'print(sum(1 for b in d["backups"] if b["action"] == "remove"))') == 2 ]] || fail "dry run removals: $(cat "$OUT")"
X=$oldest json 'print([b for b in d["backups"] if b["id"] == os.environ["X"]][0]["reasons"])' | grep -q hold || fail "hold reason"
X=$flags_id json 'print([b for b in d["backups"] if b["id"] == os.environ["X"]][0]["reasons"])' | grep -q "last 1/2" || fail "flags backup matched by paths: $(cat "$OUT")"
# certs: no rule for its kind: kept. inventory: older than 1h at that now: removed.
X=$inv json 'print([b for b in d["backups"] if b["id"] == os.environ["X"]][0]["action"])' | grep -q remove || fail "inventory should expire"
json 'print([b for b in d["backups"] if b["source"] == "certs"][0]["reasons"][0])' | grep -q "no retention rule" || fail "certs kept by no rule"
sr backups --config "$CFG" --json
[[ $(json 'print(len(d))') == 7 ]] || fail "dry run removed something"

# --- the real run; then a second client (another cache) sees no rollback.
sr expire --config "$CFG" --keep-tag run2 --now 2030-01-01T00:00:00Z
grep -q "5 backups kept, 2 removed" "$OUT" || fail "expire summary: $(cat "$OUT")"
sr backups --config "$CFG" --json
[[ $(json 'print(len(d))') == 5 ]] || fail "expected 5 backups after expire"
grep -q "went backwards" "$ERR" && fail "the expiring client reports a rollback: $(cat "$ERR")"
# Another client (its own cache) saw all 7 manifests before the expire: it accepts the
# removals, because the expire published a deletion record naming them.
# (--source etc: the inventory source has no backup left, which verify rightly reports.)
STRONGROOM_CACHE_DIR=$T/cache2 sr verify --config "$CFG" --source etc
grep -q "went backwards" "$ERR" && fail "second client reports a rollback: $(cat "$ERR")"
sr verify --config "$CFG" --source etc --read-data
# ...while a manifest deleted behind strongroom's back is still reported.
victim=$(ls "$REPO/manifests" | head -1)
cp "$REPO/manifests/$victim" "$T/victim"
rm "$REPO/manifests/$victim"
expect_exit 3 env STRONGROOM_CACHE_DIR=$T/cache2 "$SR" verify --config "$CFG" --source etc
grep -q "went backwards\|rollback\|no longer" "$ERR" "$OUT" || fail "deleted manifest not reported: $(cat "$ERR" "$OUT")"
cp "$T/victim" "$REPO/manifests/$victim"

# --- releasing the hold lets the next expire remove it.
sr hold --config "$CFG" --release "$oldest"
sr expire --config "$CFG" --source etc --now 2030-01-01T00:00:00Z --json
[[ $(json 'print(d["removed"])') == 2 ]] || fail "after release: $(cat "$OUT")"
expect_exit 2 "$SR" expire --config "$CFG" --source nosuch
grep -q "no source 'nosuch'" "$ERR" || fail "unknown source: $(cat "$ERR")"
expect_exit 2 "$SR" expire --repo "$REPO" --password-file "$T/password"
grep -q "needs\|configuration file" "$ERR" || fail "expire without config: $(cat "$ERR")"
note "ok"
