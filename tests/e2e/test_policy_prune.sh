#!/usr/bin/env bash
# Prune: killed backups' leftovers and expired backups are freed (the repository comes back
# within 5 % of its kept data), the grace period, prune beside running backups, and kill -9 at
# random moments of prune: the repository verifies and every kept backup restores.
source "$(dirname "$0")/lib.sh"

init_repo
src=$T/src
mkdir -p "$src"
for i in $(seq 1 24); do head -c $((1500000 + i * 1000)) /dev/urandom >"$src/f$i"; done

CFG=$T/strongroom.yaml
cat >"$CFG" <<YAML
repositories:
  primary: {url: $REPO}
sources:
  data:
    type: files
    kind: volume
    paths: [$src]
    retention: {keep_last: 2}
prune: {grace: 1h, max_unused: 10%}
YAML
export STRONGROOM_CONFIG=$CFG
future() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
change() { for j in $(seq 1 $1); do head -c 1600000 /dev/urandom >"$src/f$((RANDOM % 24 + 1))"; done; }
data_bytes() { du -sb "$REPO/data" "$REPO/tmp" 2>/dev/null | awk '{s += $1} END {print s}'; }
# The stored bytes of the chunks the kept backups reference (prune's mark measures them).
kept_bytes() {
  sr prune --dry-run --json
  json 'print(d["live_bytes"])'
}
check_all_restore() {
  sr verify --read-data
  sr backups --json
  for id in $(json 'print(" ".join(b["id"] for b in d))'); do
    rm -rf "$T/out"
    sr restore --backup "$id" --to "$T/out"
  done
  compare_trees "$src" "$T/out"  # the newest backup (listed last) holds the tree as it is
}

# --- history: 4 backups, then 3 killed ones.
for i in 1 2 3 4; do change 5; sr backup --source data; done
for k in 1 2 3; do
  change 8
  "$SR" backup --source data >/dev/null 2>&1 &
  pid=$!
  deadline=$((SECONDS + 30))
  before=$(find "$REPO/data" -type f | wc -l)
  while kill -0 "$pid" 2>/dev/null && (($(find "$REPO/data" -type f | wc -l) <= before)); do
    ((SECONDS < deadline)) || break
    sleep 0.02
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
sr unlock
# The killed backups changed the tree without recording it: one that completes, so that the
# newest backup holds the tree as it is (check_all_restore compares with it).
sr backup --source data
sr expire --json
[[ $(json 'print(d["removed"])') -ge 1 ]] || fail "expire removed nothing: $(cat "$OUT")"

# --- first prune (grace 1h): finds the garbage, removes nothing yet.
before=$(data_bytes)
sr prune --json
[[ $(json 'print(d["removed_packs"])') == 0 ]] || fail "prune removed packs inside the grace period"
[[ $(json 'print(d["waiting_packs"] > 0)') == True ]] || fail "nothing waiting: $(cat "$OUT")"
[[ $(data_bytes) -ge $((before - 4096)) ]] || fail "data shrank inside the grace period"
# A dry run two hours later says what it would do, and does nothing.
sr prune --dry-run --json --now "$(future 7200)"
[[ $(json 'print(d["removed_packs"] + d["repacked_packs"] > 0)') == True ]] || fail "dry run: $(cat "$OUT")"
[[ $(data_bytes) -ge $((before - 4096)) ]] || fail "dry run removed data"

# --- once the grace has passed (here 1 s; the staging leftovers are made to look 2 hours old,
# as they would be): removed; back within 5 % of the kept data.
sleep 2
find "$REPO/tmp" -type f -exec touch -d '-2 hours' {} + 2>/dev/null || true
expect_exit 2 "$SR" prune --now "$(future 7200)"  # a real prune never takes a what-if clock
sr prune --json --grace 1s
freed=$(json 'print(d["freed_bytes"])')
[[ $freed -gt 0 ]] || fail "prune freed nothing: $(cat "$OUT")"
after=$(data_bytes)
kept=$(kept_bytes)
note "data before $before, after $after, kept data $kept, freed $freed"
((after * 100 <= kept * 105)) || fail "after prune the repository holds $after bytes for $kept bytes of kept data (> 5 %)"
[[ -z $(ls -A "$REPO/tmp" 2>/dev/null) ]] || fail "staging leftovers remain: $(ls "$REPO/tmp")"
check_all_restore
# Nothing left: a second prune frees nothing.
sr prune --json --grace 0
[[ $(json 'print(d["removed_packs"])') == 0 ]] || fail "second prune removed more"

# --- prune beside running backups: every backup made meanwhile stays whole.
change 6
( for i in 1 2 3 4; do change 3; "$SR" backup --source data >/dev/null 2>"$T/bg.err" || exit 1; done ) &
bg=$!
for i in 1 2 3; do
  sr expire
  sr prune --grace 0 --lock-wait 120
done
wait "$bg" || fail "a backup beside prune failed: $(cat "$T/bg.err")"
sr prune --grace 0
check_all_restore

# --- kill -9 at random moments of prune: the repository stays sound.
for round in 1 2 3 4 5; do
  change 6
  sr backup --source data
  sr expire
  "$SR" prune --grace 0 --max-unused 1% >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sr unlock
  sr verify
done
# ... and at each step of the sweep: after the new index, after the deletion record, with some
# old index objects gone, with some packs gone, after WAL, at the end (a hook kills the process
# there, as kill -9 would).
for step in 1 2 3 4 5 6; do
  change 6
  sr backup --source data
  sr expire
  rc=0
  "$SR" prune --grace 0 --max-unused 1% --test-crash-at "$step" >/dev/null 2>&1 || rc=$?
  note "prune killed at step $step: exit $rc"
  sr unlock
  sr verify --read-data
done
sr prune --grace 0
check_all_restore
note "ok"
