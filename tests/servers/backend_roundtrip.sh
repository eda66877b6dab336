# The foundation's round trip against an object-store repository. Source after tests/e2e/lib.sh
# and servers.sh; set REPO (s3://… or azure://…) and the backend's environment first.
#
#   backend_tree DIR [N]        gen_tree plus N (default 300) small files and one file larger than
#                               the multipart threshold (STRONGROOM_MULTIPART_THRESHOLD=6M here)
#   backend_roundtrip SRC MARK  init, backup, second backup (dedup), backups, restore, compare,
#                               verify --read-data; MARK is a string the HTTP trace of the first
#                               backup must contain (proof that the multipart path ran)

export STRONGROOM_MULTIPART_THRESHOLD=6M STRONGROOM_MULTIPART_PART_SIZE=5M
export STRONGROOM_LIST_PAGE_SIZE=1  # every listing of 2+ objects pages (continuation token / marker)

backend_tree() {
  local d=$1 n=${2:-300} i j
  gen_tree "$d" 256
  for ((i = 0; i < 10; i++)); do
    mkdir -p "$d/many/dir$i"
    for ((j = 0; j < n / 10; j++)); do
      printf 'file %d/%d %s\n' "$i" "$j" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        >"$d/many/dir$i/f$j.txt"
    done
  done
  head -c $((14 * 1024 * 1024)) /dev/urandom >"$d/large.bin"
  set_mtimes "$d"
}

backend_roundtrip() {
  local src=$1 mark=$2 id1 id2 added
  init_repo
  : >"$TRANSCRIPT"
  id1=$(STRONGROOM_HTTP_TRACE=1 do_backup --path "$src")
  grep -q -- "$mark" "$TRANSCRIPT" || fail "the first backup did not use the multipart path ($mark)"
  if grep -Eiq 'authorization:|sig=[^R]|AccountKey' "$TRANSCRIPT"; then
    fail "the HTTP trace shows a secret"
  fi
  id2=$(do_backup --path "$src")
  [[ $id1 != "$id2" ]] || fail "second backup reused the first id"
  backups_json
  added=$(json "print(next(b['added_size'] for b in d if b['id'] == '$id2'))" "$T/backups.json")
  ((added < 1024 * 1024)) || fail "second backup added $added bytes: no deduplication"
  sr backups --repo "$REPO"
  grep -q "${id1:0:8}" "$OUT" || fail "backups does not list $id1"
  local restore=$T/restore-$RANDOM
  sr restore --repo "$REPO" --backup "$id2" --to "$restore"
  compare_trees "$src" "$restore"
  cmp "$src/large.bin" "$restore/large.bin" || fail "large.bin differs"
  STRONGROOM_HTTP_TRACE=1 sr verify --repo "$REPO" --read-data
  grep -Eq -- "continuation-token=|marker=" "$ERR" || fail "no listing went past its first page"
}
