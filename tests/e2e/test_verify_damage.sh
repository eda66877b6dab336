#!/usr/bin/env bash
# verify detects a flipped byte in a pack (with --read-data) and a missing pack (without),
# exits 3 and names the affected backup by its full id.
source "$(dirname "$0")/lib.sh"

# --- Part 1: corrupted pack -------------------------------------------------------------
# Tree A is large random data, tree B small text, so the largest pack holds only A's data.
mkdir -p "$T/a" "$T/b"
for i in 1 2 3 4 5 6; do head -c 1M /dev/urandom >"$T/a/big$i.bin"; done
for i in 1 2 3; do seq -f "b file $i line %g" 1 500 >"$T/b/t$i.txt"; done

init_repo
id_a=$(do_backup --path "$T/a")
id_b=$(do_backup --path "$T/b")

sr verify --repo "$REPO" --read-data

pack=$(largest_pack)
[[ -n $pack ]] || fail "no pack files found under $REPO/data"
size=$(stat -c %s "$pack")
note "corrupting $pack ($size bytes) at offset $((size / 2))"
python3 - "$pack" <<'EOF'
import os, sys
path = sys.argv[1]
os.chmod(path, 0o644)  # packs may be stored read-only
with open(path, "r+b") as f:
    off = os.path.getsize(path) // 2
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF

# Without --read-data the damage may go unnoticed, but nothing else is acceptable.
rc=0
timeout 300 "$SR" verify --repo "$REPO" >"$T/verify0.txt" 2>&1 || rc=$?
[[ $rc -eq 0 || $rc -eq 3 ]] ||
  fail "verify (metadata only) after corruption exited $rc, expected 0 or 3: $(head -n 5 "$T/verify0.txt")"

expect_exit 3 "$SR" verify --repo "$REPO" --read-data
cat "$OUT" "$ERR" >"$T/verify1.txt"
grep -qF "$id_a" "$T/verify1.txt" ||
  fail "verify --read-data output does not name the affected backup $id_a:
$(head -n 20 "$T/verify1.txt")"
if grep -qF "$id_b" "$T/verify1.txt"; then
  note "warning: verify also names backup $id_b, which shares no data with the corrupted pack"
fi

# --- Part 2: missing pack ---------------------------------------------------------------
REPO=$T/repo2
init_repo
gen_tree "$T/c" 1024
id_c=$(do_backup --path "$T/c")
sr verify --repo "$REPO"

pack=$(largest_pack)
[[ -n $pack ]] || fail "no pack files found under $REPO/data"
pack_id=$(basename "$pack")
rm -f "$pack"

expect_exit 3 "$SR" verify --repo "$REPO"
cat "$OUT" "$ERR" >"$T/verify2.txt"
grep -qF "$pack_id" "$T/verify2.txt" ||
  fail "verify output does not name the missing pack $pack_id:
$(head -n 20 "$T/verify2.txt")"
grep -qF "$id_c" "$T/verify2.txt" ||
  fail "verify output does not name the affected backup $id_c:
$(head -n 20 "$T/verify2.txt")"

pass
