#!/usr/bin/env bash
# SIGINT/SIGTERM cancel an operation cleanly (issue 9): a backup interrupted after its first pack
# exits 130 with "backup cancelled", publishes no manifest, and leaves a repository that
# `verify --read-data` accepts; the next backup works and restores exactly. A command backup
# whose command never ends (it goes quiet after 64 MiB) can only end by cancellation: SIGTERM
# must stop it (exit 130) and kill the command. A restore cancelled the same way exits 130 too.
source "$(dirname "$0")/lib.sh"

src=$T/src
mkdir "$src"
for i in 1 2 3 4 5 6; do head -c 100M /dev/urandom >"$src/big$i.bin"; done
init_repo

# Sends SIG to the command started in the background once $REPO/data holds a pack; sets rc to
# the command's exit code.
interrupt_after_first_pack() {
  local sig=$1 pid=$2 deadline=$((SECONDS + 60))
  rc=0
  while [[ -z $(list_packs) ]]; do
    kill -0 "$pid" 2>/dev/null || break
    ((SECONDS < deadline)) || { kill -9 "$pid"; fail "no pack appeared within 60 s"; }
    sleep 0.02
  done
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
}

"$SR" backup --repo "$REPO" --path "$src" >"$T/cancelled.out" 2>&1 &
interrupt_after_first_pack INT $!
if [[ $rc == 0 ]]; then
  note "warning: the backup finished before SIGINT arrived; cancellation was not exercised"
else
  [[ $rc == 130 ]] || fail "a backup cancelled by SIGINT exited $rc (want 130): $(tail -3 "$T/cancelled.out")"
  grep -q "backup cancelled" "$T/cancelled.out" || fail "no 'backup cancelled' message: $(tail -3 "$T/cancelled.out")"
  n=$(backup_ids | grep -c . || true)
  [[ $n -eq 0 ]] || fail "the cancelled backup published a manifest ($n backups)"
  sr verify --repo "$REPO" --read-data
fi

# A command that never finishes: only cancellation ends this backup.
marker=$T/command-still-running
"$SR" backup --repo "$REPO" --command "head -c 64M /dev/urandom; touch $marker.started; sleep 600; touch $marker" \
  --name endless.bin >"$T/endless.out" 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
until [[ -e $marker.started ]]; do
  kill -0 "$pid" 2>/dev/null || fail "the command backup ended on its own: $(tail -3 "$T/endless.out")"
  ((SECONDS < deadline)) || { kill -9 "$pid"; fail "the command did not produce its output within 60 s"; }
  sleep 0.05
done
start=$SECONDS
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 130 ]] || fail "a command backup cancelled by SIGTERM exited $rc (want 130): $(tail -3 "$T/endless.out")"
((SECONDS - start < 10)) || fail "cancelling the command backup took $((SECONDS - start)) s"
grep -q "backup cancelled" "$T/endless.out" || fail "no 'backup cancelled' message: $(tail -3 "$T/endless.out")"
pgrep -f "$marker" >/dev/null && fail "the command still runs after its backup was cancelled"
n=$(backup_ids | grep -c . || true)
[[ $n -eq 0 ]] || fail "the cancelled command backup published a manifest ($n backups)"
sr verify --repo "$REPO" --read-data

id=$(do_backup --path "$src")
sr verify --repo "$REPO" --read-data

# A restore cancelled by SIGTERM.
"$SR" restore --repo "$REPO" --backup "$id" --to "$T/partial" >"$T/restore.out" 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
until [[ -n $(find "$T/partial" -type f -size +1M 2>/dev/null | head -1) ]]; do
  kill -0 "$pid" 2>/dev/null || break
  ((SECONDS < deadline)) || { kill -9 "$pid"; fail "the restore wrote nothing within 60 s"; }
  sleep 0.02
done
kill -TERM "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
[[ $rc == 0 || $rc == 130 ]] || fail "a restore cancelled by SIGTERM exited $rc: $(tail -3 "$T/restore.out")"
[[ $rc == 0 ]] && note "warning: the restore finished before SIGTERM arrived"

sr restore --repo "$REPO" --backup "$id" --to "$T/restore"
compare_trees "$src" "$T/restore"
pass
