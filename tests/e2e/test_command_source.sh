#!/usr/bin/env bash
# Command sources: stdout of `/bin/sh -c CMD` is stored and restored to a file or stdout;
# a failing command gives exit 7 with its stderr and records no backup.
source "$(dirname "$0")/lib.sh"

cmd="printf 'hello\n'; seq 1 100000"
/bin/sh -c "$cmd" >"$T/expected"

init_repo
id=$(do_backup --command "$cmd" --name demo)

backups_json
json "
b = next(b for b in d if b['id'] == '$id')
assert b['type'] == 'command', b
" "$T/backups.json" || fail "backup $id is not listed with type \"command\""

sr restore --repo "$REPO" --backup "$id" --to "$T/restored.txt"
cmp "$T/expected" "$T/restored.txt" || fail "restore --to FILE differs from the command's output"

sr restore --repo "$REPO" --backup "$id" --to -
cmp "$T/expected" "$OUT" || fail "restore --to - differs from the command's output"

# A failing command.
before=$(backup_ids)
expect_exit 7 "$SR" backup --repo "$REPO" --command 'echo oops >&2; exit 3' --name broken
grep -q oops "$ERR" || fail "stderr of the failed backup does not contain the command's stderr: $(cat "$ERR")"
expect_error_line
after=$(backup_ids)
[[ $before == "$after" ]] || fail "a failed command backup was recorded: before=[$before] after=[$after]"

pass
