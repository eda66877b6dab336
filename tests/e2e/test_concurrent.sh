#!/usr/bin/env bash
# Several backups may write one repository at once (shared locks, random object names, a shared
# index cache): run three in parallel, then verify every byte and restore each.
source "$(dirname "$0")/lib.sh"

init_repo
for n in 1 2 3; do
  mkdir -p "$T/src$n"
  for i in $(seq 1 20); do head -c 300K /dev/urandom >"$T/src$n/f$i"; done
  seq 1 200000 >"$T/src$n/common.txt"   # identical in all three: stored once or more, never lost
done

pids=()
for n in 1 2 3; do
  "$SR" backup --repo "$REPO" --path "$T/src$n" --json >"$T/b$n.json" 2>"$T/b$n.err" &
  pids+=($!)
done
for n in 1 2 3; do
  wait "${pids[$((n - 1))]}" || fail "concurrent backup $n failed: $(cat "$T/b$n.err")"
done

sr verify --repo "$REPO" --read-data
for n in 1 2 3; do
  id=$(json "print(d['id'])" "$T/b$n.json")
  sr restore --repo "$REPO" --backup "$id" --to "$T/restore$n"
  compare_trees "$T/src$n" "$T/restore$n"
done
[[ -z $(ls -A "$REPO/locks") ]] || fail "locks left behind: $(ls "$REPO/locks")"
pass
