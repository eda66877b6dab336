# Shared helpers for strongroom end-to-end tests.  Source this file; do not run it.
#
# Provides:
#   $SR        the binary under test (STRONGROOM_BIN, default build/strongroom)
#   $T         a private temp dir, removed on exit
#   $REPO      $T/repo (not created; tests call `init_repo`)
#   fail MSG                   print MSG and exit 1
#   expect_exit CODE CMD...    run CMD, check exit code; stdout -> $OUT, stderr -> $ERR
#   sr ARGS...                 = expect_exit 0 "$SR" ARGS...
#   last_rc                    exit code of the last expect_exit
#   gen_tree DIR [KIB]         populate DIR with a small but varied tree
#   tree_listing DIR           sorted metadata listing of DIR (root excluded)
#   compare_trees A B          contents + metadata + hardlink structure must match
#   json EXPR [FILE]           evaluate python EXPR with `d` = parsed JSON of FILE (default $OUT)
#   init_repo                  init $REPO (tests may reassign REPO for a second repository)
#   backups_json               `backups --json` into $T/backups.json (and $OUT)
#   backup_ids                 sorted ids of all backups
#   do_backup ARGS...          run `backup --repo $REPO ARGS...`, print the id of the new backup
#   list_packs / largest_pack  pack files under $REPO/data

set -euo pipefail

SR=${STRONGROOM_BIN:-/work/main/build/strongroom}

# Keep the caller's environment from leaking into the tests.
unset STRONGROOM_PASSWORD STRONGROOM_NEW_PASSWORD STRONGROOM_NEW_PASSWORD_FILE STRONGROOM_REPOSITORY

T=$(mktemp -d "${TMPDIR:-/tmp}/sr-e2e.XXXXXX")
# Some tests make read-only dirs/files; make everything writable before removal.
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

TEST_NAME=$(basename "$0" .sh)
REPO=$T/repo
OUT=$T/last.stdout
ERR=$T/last.stderr
TRANSCRIPT=$T/transcript   # every stdout/stderr produced through expect_exit

PASSWORD="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
STRONGROOM_PASSWORD_FILE=$T/password
(umask 077 && printf '%s\n' "$PASSWORD" >"$STRONGROOM_PASSWORD_FILE")
chmod 600 "$STRONGROOM_PASSWORD_FILE"
export STRONGROOM_PASSWORD_FILE

# Per-invocation safety net so a hang (e.g. a password prompt) fails instead of stalling CI.
SR_TIMEOUT=${SR_TIMEOUT:-300}

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  exit 1
}

note() { echo "[$TEST_NAME] $*" >&2; }

[[ -x $SR ]] || fail "strongroom binary not found or not executable: $SR"

# expect_exit CODE CMD... — CODE may be a number or "nonzero".
expect_exit() {
  local want=$1 rc=0
  shift
  timeout -k 5 "$SR_TIMEOUT" "$@" >"$OUT" 2>"$ERR" || rc=$?
  echo "$rc" >"$T/last.rc"
  { printf '$ %s\n' "$*"; cat "$OUT" "$ERR"; } >>"$TRANSCRIPT"
  if [[ $want == nonzero && $rc -ne 0 ]] || [[ $want == "$rc" ]]; then
    return 0
  fi
  [[ $rc -eq 124 ]] && echo "(timed out after ${SR_TIMEOUT}s)" >&2
  echo "--- stdout (first 40 lines):" >&2; head -n 40 "$OUT" >&2
  echo "--- stderr (first 40 lines):" >&2; head -n 40 "$ERR" >&2
  fail "expected exit $want, got $rc: $*"
}

sr() { expect_exit 0 "$SR" "$@"; }

last_rc() { cat "$T/last.rc"; }

# Asserts the documented error format: a line starting with "strongroom: error: ".
expect_error_line() {
  grep -q '^strongroom: error: ' "$ERR" || fail "stderr lacks a 'strongroom: error: ' line: $(head -c 500 "$ERR")"
}

init_repo() { sr init --repo "$REPO"; }

# json EXPR [FILE]: run python EXPR (statements allowed) with d = parsed JSON.
json() {
  python3 - "$1" "${2:-$OUT}" <<'EOF'
import json, os, re, sys
with open(sys.argv[2]) as f:
    d = json.load(f)
exec(sys.argv[1])
EOF
}

backups_json() {
  sr backups --repo "$REPO" --json
  cp "$OUT" "$T/backups.json"
}

backup_ids() {
  backups_json
  json 'print("\n".join(sorted(b["id"] for b in d)))' "$T/backups.json"
}

# do_backup ARGS... : prints the id of the backup it created (found via `backups --json`).
do_backup() {
  local before after new
  before=$(backup_ids)
  sr backup --repo "$REPO" "$@"
  after=$(backup_ids)
  new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
  [[ $(grep -c . <<<"$new") -eq 1 ]] || fail "expected exactly one new backup after 'backup $*', got: '$new'"
  echo "$new"
}

# gen_tree DIR [KIB] — files of several kinds, nested/empty dirs, symlinks, a hardlink pair,
# assorted permissions and fixed mtimes. KIB (default 256) sizes the random file.
gen_tree() {
  local d=$1 kib=${2:-256}
  mkdir -p "$d/sub/deeper/deepest" "$d/empty" "$d/private"
  : >"$d/empty.txt"
  echo "hello world" >"$d/small.txt"
  head -c $((kib * 1024)) /dev/urandom >"$d/sub/random.bin"
  seq 1 20000 | sed 's/$/ the quick brown fox jumps over the lazy dog/' >"$d/sub/deeper/text.txt"
  echo "deep" >"$d/sub/deeper/deepest/leaf"
  echo "secret" >"$d/private/key"
  ln -s ../small.txt "$d/sub/link-to-small"
  ln -s does/not/exist "$d/dangling"
  echo "linked" >"$d/hard-a"
  ln "$d/hard-a" "$d/sub/hard-b"
  chmod 0600 "$d/private/key"
  chmod 0755 "$d/small.txt"
  chmod 0444 "$d/sub/deeper/text.txt"
  chmod 0700 "$d/private"
  set_mtimes "$d"
}

# Gives every entry below DIR a distinct, fixed mtime (with nanoseconds); dirs last, deepest first.
set_mtimes() {
  local d=$1 i=0 p
  while IFS= read -r -d '' p; do
    i=$((i + 1))
    touch -h -d "2011-03-0$((i % 9 + 1)) 10:$((i % 60)):$(((i * 7) % 60)).$(((i * 1234567) % 900000000 + 100000000))" "$p"
  done < <(find "$d" -mindepth 1 ! -type d -print0)
  while IFS= read -r -d '' p; do
    i=$((i + 1))
    touch -d "2012-04-0$((i % 9 + 1)) 11:$((i % 60)):$(((i * 11) % 60)).$(((i * 7654321) % 900000000 + 100000000))" "$p"
  done < <(find "$d" -mindepth 1 -type d -print0 | sort -rz)
}

# One line per entry: path, type, mode, uid, gid, size (blank for dirs, fs-dependent),
# mtime (ns), symlink target. Newlines/backslashes in names are escaped so the listing stays line-based.
tree_listing() {
  find "$1" -mindepth 1 \
    \( -type d -printf '%P\t%y\t%m\t%U\t%G\t-\t%T@\t%l\0' \) -o \
    -printf '%P\t%y\t%m\t%U\t%G\t%s\t%T@\t%l\0' |
    LC_ALL=C sort -z | sed -z 's/\\/\\\\/g; s/\n/\\n/g' | tr '\0' '\n'
}

# Hardlink groups (sets of relative paths sharing an inode), printed canonically.
hardlink_groups() {
  python3 - "$1" <<'EOF'
import os, stat, sys
root = os.fsencode(sys.argv[1])
groups = {}
for dp, dns, fns in os.walk(root):
    for f in fns:
        p = os.path.join(dp, f)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            groups.setdefault((st.st_dev, st.st_ino), []).append(os.path.relpath(p, root))
for g in sorted(sorted(g) for g in groups.values() if len(g) > 1):
    print(repr(g))
EOF
}

compare_trees() {
  local a=$1 b=$2
  diff -r --no-dereference "$a" "$b" >"$T/diff.out" 2>&1 ||
    fail "contents differ between $a and $b:
$(head -n 30 "$T/diff.out")"
  tree_listing "$a" >"$T/listing.a"
  tree_listing "$b" >"$T/listing.b"
  diff "$T/listing.a" "$T/listing.b" >"$T/listing.diff" ||
    fail "metadata differs (< original, > restored; path type mode uid gid size mtime target):
$(head -n 40 "$T/listing.diff")"
  hardlink_groups "$a" >"$T/links.a"
  hardlink_groups "$b" >"$T/links.b"
  diff "$T/links.a" "$T/links.b" >"$T/links.diff" ||
    fail "hardlink structure differs (< original, > restored):
$(cat "$T/links.diff")"
}

# Pack files per the documented layout data/<2 hex>/<64 hex>.
list_packs() {
  find "$REPO/data" -type f -regextype posix-extended \
    -regex '.*/data/[0-9a-f]{2}/[0-9a-f]{64}' 2>/dev/null || true
}

largest_pack() {
  { find "$REPO/data" -type f -regextype posix-extended \
    -regex '.*/data/[0-9a-f]{2}/[0-9a-f]{64}' -printf '%s %p\n' 2>/dev/null || true; } |
    sort -n | tail -n 1 | cut -d' ' -f2-
}

pass() { echo "PASS [$TEST_NAME]"; }
# A free TCP port on 127.0.0.1 (for a server the test starts).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# pg_e2e_setup — for PostgreSQL tests: sources tests/pg/pglib.sh, installs PostgreSQL 15, stops
# its servers on exit, sets PGU (the server's OS user) and lets that user reach $T and read the
# password file (archive_command and restore_command run as the server's user).
pg_e2e_setup() {
  # shellcheck source=../pg/pglib.sh
  source "$SR_SOURCE_DIR/tests/pg/pglib.sh"
  pg_cleanup_on_exit
  pg_install >/dev/null
  PGU=$(pg_user)
  chmod 755 "$T"
  chown "$PGU" "$STRONGROOM_PASSWORD_FILE"
}
