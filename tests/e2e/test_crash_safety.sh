#!/usr/bin/env bash
# A backup killed with SIGKILL mid-way leaves a sound repository: verify passes, no partial
# backup is listed, and a subsequent backup works and restores exactly.
source "$(dirname "$0")/lib.sh"

src=$T/src
mkdir "$src"
for i in 1 2 3 4 5 6; do head -c 100M /dev/urandom >"$src/big$i.bin"; done

init_repo

"$SR" backup --repo "$REPO" --path "$src" >"$T/killed.out" 2>&1 &
pid=$!

# Wait (up to 30 s) for the first pack to land in data/, then kill -9.
deadline=$((SECONDS + 30))
while [[ -z $(list_packs) ]]; do
  kill -0 "$pid" 2>/dev/null || break
  ((SECONDS < deadline)) || { kill -9 "$pid"; fail "no pack appeared in $REPO/data within 30 s"; }
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
killed=false
[[ $rc -eq 137 ]] && killed=true
if [[ $killed == false ]]; then
  note "warning: backup finished (exit $rc) before it could be killed; the crash was not exercised"
  [[ $rc -eq 0 ]] || fail "backup exited $rc before it was killed: $(tail -n 5 "$T/killed.out")"
else
  note "killed backup after $(list_packs | wc -l) pack(s) were written"
fi

sr verify --repo "$REPO"

if [[ $killed == true ]]; then
  n=$(backup_ids | grep -c . || true)
  [[ $n -eq 0 ]] || fail "the killed backup is listed as a backup ($n backups found)"
fi

id=$(do_backup --path "$src")
sr verify --repo "$REPO" --read-data
sr restore --repo "$REPO" --backup "$id" --to "$T/restore"
compare_trees "$src" "$T/restore"

pass
