#!/usr/bin/env bash
# Issue 10, item 11: a repository that went backwards, and packs that are gone.
# (a) The newest manifest deleted by hand: `backups` warns, `verify` fails naming it (JSON field
#     rollback), `restore latest` warns; `verify --accept-state` accepts; the next verify is clean.
# (b) A pack deleted by hand: verify names it; a new backup of the same data stores the chunks
#     again (not referencing the gone pack) and restores byte-exactly (which also heals the old
#     backup: same chunk ids). A second pack deleted, of a backup whose data nobody stores again:
#     `repair index` rebuilds the index; verify then has no missing-pack error and reports that
#     backup damaged.
source "$(dirname "$0")/lib.sh"

export STRONGROOM_CACHE_DIR=$T/cache

# --- (a) rollback of the newest manifest ----------------------------------------------------
init_repo
mkdir -p "$T/src"
echo one >"$T/src/f1"
id1=$(do_backup --path "$T/src")
echo two >"$T/src/f2"
id2=$(do_backup --path "$T/src")
sr verify --repo "$REPO"

note "deleting the newest manifest $id2 behind strongroom's back"
rm -f "$REPO/manifests/$id2"

sr backups --repo "$REPO"
grep -q "went backwards" "$ERR" || fail "backups does not warn about the rollback: $(cat "$ERR")"
grep -qF "$id2" "$ERR" || fail "the backups warning does not name $id2: $(cat "$ERR")"

expect_exit 3 "$SR" verify --repo "$REPO"
grep -qF "$id2" "$OUT" || fail "verify does not name the deleted backup $id2: $(cat "$OUT")"
expect_exit 3 "$SR" verify --repo "$REPO" --json
ID2=$id2 json 'assert d["rollback"]["went_backwards"] is True, d["rollback"]
assert os.environ["ID2"] in d["rollback"]["missing_manifests"], d["rollback"]
assert d["rollback"]["rolled_back_series"], d["rollback"]
assert not d["ok"]' || fail "verify --json: rollback not reported"

sr restore --repo "$REPO" --backup latest --to "$T/restore-a"
grep -q "went backwards" "$ERR" || fail "restore of latest does not warn: $(cat "$ERR")"

sr verify --repo "$REPO" --accept-state
grep -q "accepted" "$OUT" || fail "verify --accept-state does not say so: $(cat "$OUT")"
sr verify --repo "$REPO"
sr backups --repo "$REPO"
if grep -q "went backwards" "$ERR"; then fail "still warning after --accept-state: $(cat "$ERR")"; fi

# A tampered client state is discarded with a warning, not trusted.
state=$(find "$T/cache" -name "state-*.json" | head -n 1)
[[ -f $state ]] || fail "no client state under $T/cache"
# Flip one hex digit of the MAC (always a change, whatever the digit was).
python3 - "$state" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["mac"] = ("1" if d["mac"][0] == "0" else "0") + d["mac"][1:]
open(p, "w").write(json.dumps(d))
PY
sr backups --repo "$REPO"
grep -q "discarded" "$ERR" || fail "a tampered state is not reported: $(cat "$ERR")"

# --- (b) a pack deleted by hand ----------------------------------------------------------------
REPO=$T/repo2
init_repo
mkdir -p "$T/data"
for i in 1 2 3; do head -c 700K /dev/urandom >"$T/data/r$i.bin"; done
old=$(do_backup --path "$T/data")
sr verify --repo "$REPO"

pack=$(largest_pack)
pack_id=$(basename "$pack")
note "deleting pack $pack_id"
rm -f "$pack"

expect_exit 3 "$SR" verify --repo "$REPO" --json
PACK=$pack_id json 'assert d["missing_packs"] == 1, d
assert os.environ["PACK"] in d["missing_pack_names"], d
assert any(os.environ["PACK"] in p for p in d["problems"]), d' ||
  fail "verify --json does not report the missing pack"

sr backup --repo "$REPO" --path "$T/data"
grep -q "missing" "$ERR" || fail "the backup does not warn about the missing pack: $(cat "$ERR")"
new=$(backup_ids | grep -vF "$old")
sr restore --repo "$REPO" --backup "$new" --to "$T/restore-b"
for i in 1 2 3; do
  cmp "$T/data/r$i.bin" "$T/restore-b/r$i.bin" || fail "r$i.bin differs after the re-store"
done
# Another client, with a fresh cache: the index names two copies of those chunks, one in the gone
# pack; the restore must read the present one.
STRONGROOM_CACHE_DIR=$T/cache-fresh sr restore --repo "$REPO" --backup "$old" --to "$T/restore-b2"
cmp "$T/data/r1.bin" "$T/restore-b2/r1.bin" || fail "restore with a fresh cache differs"

# A backup whose only pack is lost: repair index cannot invent its data.
mkdir -p "$T/lost"
head -c 1M /dev/urandom >"$T/lost/only.bin"
list_packs | sort >"$T/packs-before"
lost=$(do_backup --path "$T/lost")
lost_pack=$(comm -13 "$T/packs-before" <(list_packs | sort) | xargs ls -S | head -n 1)
note "deleting pack $(basename "$lost_pack") of backup $lost"
rm -f "$lost_pack"

sr repair index --repo "$REPO" --json
json 'assert d["missing_pack_count"] == 2 and d["index_objects_removed"] >= 1, d
assert d["index_objects_written"] >= 1 and d["packs"] >= 2, d' ||
  fail "repair index --json: $(cat "$OUT")"
sr repair index --help

expect_exit 3 "$SR" verify --repo "$REPO" --json
OLD=$old NEW=$new LOST=$lost json 'assert d["missing_packs"] == 0, d
assert not any("missing:" in p for p in d["problems"]), d["problems"]
assert os.environ["LOST"] in d["damaged_backups"], d
assert os.environ["NEW"] not in d["damaged_backups"], d
assert os.environ["OLD"] not in d["damaged_backups"], d  # its chunks were stored again
assert not d["rollback"]["went_backwards"], d["rollback"]' ||
  fail "verify after repair index: $(cat "$OUT")"
sr restore --repo "$REPO" --backup "$new" --to "$T/restore-c"
cmp "$T/data/r1.bin" "$T/restore-c/r1.bin" || fail "restore after repair differs"

pass
