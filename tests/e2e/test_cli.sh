#!/usr/bin/env bash
# CLI surface: --help everywhere, usage errors, JSON schema of backups, init twice,
# repository URL forms, key slot management.
source "$(dirname "$0")/lib.sh"

# --- --help for the program and every command.
for cmd in "" init backup backups restore verify key "key add" "key list" "key remove"; do
  # shellcheck disable=SC2086 # word splitting of "key add" is intended
  expect_exit 0 "$SR" $cmd --help
  cat "$OUT" "$ERR" | grep -qi usage || fail "'strongroom $cmd --help' does not print usage"
done

# --- Usage errors: exit 2.
expect_exit 2 "$SR" no-such-command
expect_exit 2 "$SR" backups --no-such-option

# --- init; init twice fails with exit 1.
init_repo
expect_exit 1 "$SR" init --repo "$REPO"
expect_error_line

# --- Nonexistent repository: exit 6.
expect_exit 6 "$SR" backups --repo "$T/no-such-repo"

# --- backups --json schema, for a files and a command backup.
gen_tree "$T/src"
sr backup --repo "$REPO" --path "$T/src" --tag t1 --tag t2 --host testhost --json
cp "$OUT" "$T/backup-files.json"
sr backup --repo "$REPO" --command "echo hi" --name cmd --json
cp "$OUT" "$T/backup-cmd.json"
backups_json

MANIFEST_IDS=$(ls "$REPO/manifests") BACKUPS_JSON=$T/backups.json json '
manifests = set(os.environ["MANIFEST_IDS"].split())
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
def isint(v): return isinstance(v, int) and not isinstance(v, bool)
def check(cond, what, obj): 
    if not cond: sys.exit("backups --json: %s: %r" % (what, obj))
check(isinstance(d, list), "not a JSON array", d)
check(len(d) == 2, "expected 2 backups", d)
for b in d:
    check(isinstance(b, dict), "entry is not an object", b)
    for k in ("id", "time", "source", "type", "size", "stored_size", "added_size", "tags",
              "host", "file_count", "end_time", "duration_seconds"):
        check(k in b, "field %s missing" % k, b)
    check(re.fullmatch(r"[0-9a-f]+", b["id"]), "id is not hex", b["id"])
    check(b["id"] in manifests, "id does not match a manifests/<id> file %s" % sorted(manifests), b["id"])
    check(isinstance(b["time"], str) and rfc3339.match(b["time"]), "time is not RFC 3339 UTC", b["time"])
    check(isinstance(b["source"], str), "source is not a string", b["source"])
    check(b["type"] in ("files", "command"), "bad type", b["type"])
    for k in ("size", "stored_size", "added_size", "file_count"):
        check(isint(b[k]), "%s is not an integer" % k, b[k])
    check(isinstance(b["tags"], list) and all(isinstance(t, str) for t in b["tags"]), "tags", b["tags"])
    check(isinstance(b["duration_seconds"], (int, float)) and not isinstance(b["duration_seconds"], bool),
          "duration_seconds is not a number", b["duration_seconds"])
    check(isinstance(b["end_time"], str), "end_time is not a string", b["end_time"])
files = [b for b in d if b["type"] == "files"]
cmds = [b for b in d if b["type"] == "command"]
check(len(files) == 1 and len(cmds) == 1, "expected one files and one command backup", d)
f, c = files[0], cmds[0]
check(sorted(f["tags"]) == ["t1", "t2"], "tags of the files backup", f["tags"])
check(f["host"] == "testhost", "host of the files backup", f["host"])
check(f["size"] > 0 and f["file_count"] > 0, "size/file_count of the files backup", f)
# The contract lists `paths` among the extra fields; it is only meaningful for files backups.
check(isinstance(f.get("paths"), list) and f["paths"], "paths of the files backup is not a non-empty array", f)
check("command" in c and "exit_status" in c, "command backup lacks command/exit_status", c)
check(c["exit_status"] == 0, "exit_status of the command backup", c)
' "$T/backups.json" || fail "backups --json does not match the contract (see above)"

# backup --json prints one object describing the new backup.
for f in backup-files backup-cmd; do
  BACKUPS_JSON=$T/backups.json json '
ids = [b["id"] for b in json.load(open(os.environ["BACKUPS_JSON"]))]
if not isinstance(d, dict) or d.get("id") not in ids:
    sys.exit("not an object for a listed backup: %r (listed: %r)" % (d, ids))
' "$T/$f.json" || fail "backup --json output ($f) is not the new backup object"
done

# --- Table output works too.
sr backups --repo "$REPO"
[[ -s $OUT ]] || fail "backups (table) printed nothing"

# --- Repository URL forms: file:// and STRONGROOM_REPOSITORY.
sr backups --repo "file://$REPO" --json
json 'assert len(d) == 2' || fail "--repo file://... lists a different repository"
STRONGROOM_REPOSITORY=$REPO expect_exit 0 "$SR" backups --json
json 'assert len(d) == 2' || fail "STRONGROOM_REPOSITORY lists a different repository"

# --- Key slots.
old_slot=$(ls "$REPO/keys" | grep -v "^ring\.")  # keys/ring.<id>: the key ring
[[ $(grep -c . <<<"$old_slot") -eq 1 ]] || fail "expected one key slot in keys/ after init, got: $old_slot"

NEWPW="new-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(umask 077 && printf '%s\n' "$NEWPW" >"$T/new-password")
STRONGROOM_NEW_PASSWORD_FILE=$T/new-password expect_exit 0 "$SR" key add --repo "$REPO"
new_slot=$(ls "$REPO/keys" | grep -v "^ring\." | comm -23 - <(echo "$old_slot"))
[[ $(grep -c . <<<"$new_slot") -eq 1 ]] || fail "expected one new key slot after key add, got: $new_slot"

# The new password opens the repository.
STRONGROOM_PASSWORD_FILE=$T/new-password expect_exit 0 "$SR" backups --repo "$REPO"

sr key list --repo "$REPO" --json
json 'assert isinstance(d, list) and len(d) == 2, d' || fail "key list --json does not show 2 slots"
grep -qF "$old_slot" "$OUT" || fail "key list --json does not mention slot $old_slot: $(cat "$OUT")"
grep -qF "$new_slot" "$OUT" ||
  fail "key list --json does not mention slot $new_slot: $(cat "$OUT")"
sr key list --repo "$REPO"

# Opened with the new password: removing its own slot is refused, removing the old one works.
export STRONGROOM_PASSWORD_FILE=$T/new-password
expect_exit nonzero "$SR" key remove --repo "$REPO" "$new_slot"
expect_error_line
sr key remove --repo "$REPO" "$old_slot"
[[ ! -e $REPO/keys/$old_slot ]] || fail "key remove left keys/$old_slot on disk"
sr key list --repo "$REPO" --json
json 'assert isinstance(d, list) and len(d) == 1, d' || fail "key list --json does not show 1 slot after remove"

# The old password no longer opens the repository.
STRONGROOM_PASSWORD_FILE=$T/password expect_exit 4 "$SR" backups --repo "$REPO"

# Removing the last remaining slot is refused.
expect_exit nonzero "$SR" key remove --repo "$REPO" "$new_slot"
expect_error_line
[[ -e $REPO/keys/$new_slot ]] || fail "the last key slot was removed"
sr backups --repo "$REPO"

pass
