#!/usr/bin/env bash
# restore: refuses a non-empty target without --force (touching nothing), overwrites with --force,
# exit 6 for an unknown id, `latest` = newest backup, a unique id prefix works.
source "$(dirname "$0")/lib.sh"

src=$T/src
gen_tree "$src"
echo "version 1" >"$src/a.txt"
init_repo
id1=$(do_backup --path "$src")
cp -a "$src" "$T/state1"

sleep 1.1 # distinct backup times, so "newest" is unambiguous
echo "version 2" >"$src/a.txt"
echo "added later" >"$src/b.txt"
id2=$(do_backup --path "$src")

# --- Non-empty target without --force: refused, existing files untouched.
tgt=$T/target
mkdir "$tgt"
echo "precious" >"$tgt/a.txt"          # collides with a file in the backup
echo "bystander" >"$tgt/preexisting.txt"
touch -d '2000-01-01 00:00:00' "$tgt/a.txt" "$tgt/preexisting.txt"
tree_listing "$tgt" >"$T/target.before"

expect_exit 1 "$SR" restore --repo "$REPO" --backup "$id1" --to "$tgt"
expect_error_line
tree_listing "$tgt" >"$T/target.after"
diff "$T/target.before" "$T/target.after" >/dev/null || fail "refused restore modified the target directory:
$(diff "$T/target.before" "$T/target.after" | head -n 20)"
[[ $(cat "$tgt/a.txt") == precious ]] || fail "refused restore overwrote a.txt"
[[ $(cat "$tgt/preexisting.txt") == bystander ]] || fail "refused restore changed preexisting.txt"

# --- With --force: works, backup contents win.
sr restore --repo "$REPO" --backup "$id1" --to "$tgt" --force
[[ $(cat "$tgt/a.txt") == "version 1" ]] || fail "--force restore did not overwrite a.txt"
rm "$tgt/preexisting.txt" # not part of the backup; whether it survives is not specified
compare_trees "$T/state1" "$tgt"

# --- An existing but empty target is fine without --force.
mkdir "$T/empty-target"
sr restore --repo "$REPO" --backup "$id1" --to "$T/empty-target"
compare_trees "$T/state1" "$T/empty-target"

# --- Unknown backup id: exit 6.
unknown=ffffffffffffffffffffffffffffffff
[[ $id1 != "$unknown"* && $id2 != "$unknown"* ]] || unknown=00000000000000000000000000000000
expect_exit 6 "$SR" restore --repo "$REPO" --backup "$unknown" --to "$T/unknown"
expect_error_line
[[ ! -e $T/unknown ]] || [[ -z $(ls -A "$T/unknown") ]] || fail "failed restore left files in $T/unknown"

# --- latest picks the newest backup.
sr restore --repo "$REPO" --backup latest --to "$T/latest"
compare_trees "$src" "$T/latest"

# --- A unique prefix selects the backup.
prefix=${id1:0:8}
[[ $id2 != "$prefix"* ]] || prefix=${id1:0:16}
sr restore --repo "$REPO" --backup "$prefix" --to "$T/by-prefix"
compare_trees "$T/state1" "$T/by-prefix"

pass
