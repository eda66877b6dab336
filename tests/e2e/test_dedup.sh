#!/usr/bin/env bash
# A second backup after a ~1% change must add little data, and both backups must restore
# to the tree as it was when each was taken.
source "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/random" "$src/text/nested"
# ~100 files, ~40 MiB: 50 random files of 400 KiB, 50 compressible text files of ~400 KiB.
for i in $(seq -w 1 50); do
  head -c 400K /dev/urandom >"$src/random/r$i.bin"
  seq -f "file $i line %g: lorem ipsum dolor sit amet, consectetur adipiscing elit" 1 5000 |
    head -c 400K >"$src/text/nested/t$i.txt"
done

init_repo
id1=$(do_backup --path "$src")
cp -a "$src" "$T/state1"

# ~1% change: modify one file in place (same size), add one file.
printf 'CHANGED' | dd of="$src/random/r25.bin" bs=1 seek=$((200 * 1024)) conv=notrunc status=none
head -c 400K /dev/urandom >"$src/random/new.bin"

id2=$(do_backup --path "$src")

backups_json
added1=$(json "print(next(b['added_size'] for b in d if b['id'] == '$id1'))" "$T/backups.json")
added2=$(json "print(next(b['added_size'] for b in d if b['id'] == '$id2'))" "$T/backups.json")
note "added_size: first=$added1 second=$added2"
((added1 > 0)) || fail "first backup reports added_size=$added1"
((added2 * 100 <= added1 * 5)) ||
  fail "second backup added $added2 bytes, more than 5% of the first ($added1 bytes): deduplication not effective"

sr restore --repo "$REPO" --backup "$id1" --to "$T/restore1"
compare_trees "$T/state1" "$T/restore1"
sr restore --repo "$REPO" --backup "$id2" --to "$T/restore2"
compare_trees "$src" "$T/restore2"

pass
