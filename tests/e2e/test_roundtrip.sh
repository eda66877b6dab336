#!/usr/bin/env bash
# Backup + restore of a tree full of awkward cases must reproduce it exactly:
# contents, types, modes, mtimes (dirs and symlinks too), symlink targets, hardlinks,
# sparseness, odd file names and (as root) ownership.
source "$(dirname "$0")/lib.sh"

src=$T/src
gen_tree "$src" 512

# Sizes.
head -c 3M /dev/urandom >"$src/sub/random-3m.bin"
head -c 1 /dev/urandom >"$src/one-byte"
seq 1 200000 >"$src/compressible.txt"
mkdir -p "$src/a/b/c/d/e/f" "$src/a/b/empty-nested"
echo nested >"$src/a/b/c/d/e/f/file"

# Sparse: 64 MiB apparent size, a few bytes of data in the middle.
truncate -s 64M "$src/sparse.img"
printf 'in the middle of nowhere' | dd of="$src/sparse.img" bs=1 seek=$((32 * 1024 * 1024)) conv=notrunc status=none

# Awkward names.
echo space >"$src/name with spaces"
echo newline >"$src/new"$'\n'"line"
echo bytes >"$src/bad"$'\xff\xfe'"utf8"
echo dash >"$src/-leading-dash"
mkdir "$src/dir with"$'\n'"newline"
echo x >"$src/dir with"$'\n'"newline/--x"

# Permissions beyond gen_tree's.
echo ro >"$src/readonly"
chmod 0444 "$src/readonly"
chmod 0755 "$src/sub/random-3m.bin"
mkdir "$src/locked"
echo inside >"$src/locked/inside"
chmod 0700 "$src/locked"

# Ownership (only meaningful as root).
if [[ $(id -u) -eq 0 ]]; then
  echo owned >"$src/owned-by-1234"
  chown 1234:2345 "$src/owned-by-1234"
  mkdir "$src/dir-owned"
  chown 1234:2345 "$src/dir-owned"
  ln -s owned-by-1234 "$src/link-owned"
  chown -h 1234:2345 "$src/link-owned"
else
  note "not root: skipping ownership checks"
fi

set_mtimes "$src"

init_repo
id=$(do_backup --path "$src")
sr restore --repo "$REPO" --backup "$id" --to "$T/restore"

compare_trees "$src" "$T/restore"

# Both write paths (page cache with early writeback, the default; O_DIRECT for large files)
# restore the same tree, sparse files included.
sr restore --repo "$REPO" --backup "$id" --to "$T/restore-direct" --write-mode direct
compare_trees "$src" "$T/restore-direct"
expect_exit 2 "$SR" restore --repo "$REPO" --backup "$id" --to "$T/restore-x" --write-mode fast
grep -q "write-mode" "$ERR" || fail "a bad --write-mode is not named: $(cat "$ERR")"

# Hardlinks: same inode in the restore.
[[ $(stat -c %i "$T/restore/hard-a") == $(stat -c %i "$T/restore/sub/hard-b") ]] ||
  fail "hardlink pair hard-a / sub/hard-b restored as separate files"

# Sparse file must stay sparse.
kib=$(du -k "$T/restore/sparse.img" | cut -f1)
((kib < 2048)) || fail "sparse.img restored with $kib KiB allocated (expected < 2048 KiB)"
cmp "$src/sparse.img" "$T/restore/sparse.img" || fail "sparse.img content differs"

if [[ $(id -u) -eq 0 ]]; then
  [[ $(stat -c %u:%g "$T/restore/owned-by-1234") == 1234:2345 ]] || fail "owner of owned-by-1234 not restored"
  [[ $(stat -c %u:%g "$T/restore/dir-owned") == 1234:2345 ]] || fail "owner of dir-owned not restored"
fi

pass
