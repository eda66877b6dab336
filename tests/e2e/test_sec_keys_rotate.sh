#!/usr/bin/env bash
# Issue 10, item 12: `key remove --rotate` through the CLI. After it the removed password opens
# nothing, a copy of the old key material (slots and key ring taken before the rotation) reads
# no backup written after it, and the remaining password restores old and new backups.
source "$(dirname "$0")/lib.sh"

for cmd in "key rotate" "key upgrade" "key export-writer" "key remove"; do
  # shellcheck disable=SC2086 # word splitting of "key rotate" is intended
  expect_exit 0 "$SR" $cmd --help
  grep -qi usage "$OUT" || fail "'strongroom $cmd --help' does not print usage"
done
"$SR" key remove --help | grep -q -- --rotate || fail "key remove --help does not show --rotate"

init_repo
mkdir -p "$T/src"
gen_tree "$T/src/old"
old=$(do_backup --path "$T/src")

(umask 077 && printf 'second-%s\n' "$PASSWORD" >"$T/pw2")
STRONGROOM_NEW_PASSWORD_FILE=$T/pw2 sr key add --repo "$REPO" --json
second=$(json 'print(d["id"])')
sr key list --repo "$REPO" --json
json 'assert all(s["generation"] == 0 and s["format"] == "ring" for s in d), d'

# What the holder of the second password could copy before losing it.
cp -a "$REPO/keys" "$T/stolen-keys"

sr key remove --repo "$REPO" --rotate "$second" --json
json 'assert d == {"removed": "'"$second"'", "generation": 1}, d'
sr key list --repo "$REPO"
grep -q "key generation 1" "$OUT" || fail "key list does not show the generation: $(cat "$OUT")"

# The removed password opens nothing.
STRONGROOM_PASSWORD_FILE=$T/pw2 expect_exit 4 "$SR" backups --repo "$REPO"
expect_error_line

# A backup written after the rotation.
gen_tree "$T/src/new"
new=$(do_backup --path "$T/src")

# The old key material on a copy of the repository: the old backup still opens, the new one not.
cp -a "$REPO" "$T/stolen"
rm -rf "$T/stolen/keys"
cp -a "$T/stolen-keys" "$T/stolen/keys"
STRONGROOM_PASSWORD_FILE=$T/pw2 sr restore --repo "$T/stolen" --backup "$old" --to "$T/r-stolen-old"
STRONGROOM_PASSWORD_FILE=$T/pw2 expect_exit nonzero "$SR" restore --repo "$T/stolen" \
  --backup "$new" --to "$T/r-stolen-new"
grep -qi "generation" "$ERR" || fail "the old keys failed unclearly on a new backup: $(cat "$ERR")"
[[ ! -e $T/r-stolen-new/new ]] || fail "the old key material restored a backup written after the rotation"
# The new pack files hold nothing the old keys open either: restore with old keys but the new
# index and manifest is impossible (the manifest itself is sealed under generation 1).

# The remaining password restores both.
sr restore --repo "$REPO" --backup "$old" --to "$T/r-old"
compare_trees "$T/src/old" "$T/r-old/old"
sr restore --repo "$REPO" --backup "$new" --to "$T/r-new"
compare_trees "$T/src/new" "$T/r-new/new"
sr verify --repo "$REPO" --read-data

# A plain rotation re-keys the remaining slot again.
sr key rotate --repo "$REPO" --json
json 'assert d["generation"] == 2 and d["slots"] == 1, d'
sr restore --repo "$REPO" --backup "$old" --to "$T/r-old2"
compare_trees "$T/src/old" "$T/r-old2/old"

pass
