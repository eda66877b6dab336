#!/usr/bin/env bash
# Issue 10, defect 5: a garbage object under locks/ does not block backup, restore or unlock:
# it is reported as a stale lock (named in a warning) and `unlock` removes it.
source "$(dirname "$0")/lib.sh"

init_repo
gen_tree "$T/src"
garbage=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
head -c 200 /dev/urandom >"$REPO/locks/$garbage" 2>/dev/null ||
  { mkdir -p "$REPO/locks" && head -c 200 /dev/urandom >"$REPO/locks/$garbage"; }

sr backup --repo "$REPO" --path "$T/src"
grep -q "$garbage" "$ERR" || fail "backup did not name the unreadable lock: $(cat "$ERR")"
id=$(backup_ids)
sr restore --repo "$REPO" --backup "$id" --to "$T/restore"
compare_trees "$T/src" "$T/restore"
sr unlock --repo "$REPO"
grep -q "removed 1 stale" "$OUT" || fail "unlock did not remove the unreadable lock: $(cat "$OUT")"
[[ ! -e $REPO/locks/$garbage ]] || fail "the unreadable lock is still there"

pass
