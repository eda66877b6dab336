#!/usr/bin/env bash
# Issue 10, defect 3: every file of a local repository is 0600 and every directory 0700 (key
# slots, config, packs, index, manifests, locks, WAL), whatever the umask; `init` into an existing
# directory tightens it to 0700.
source "$(dirname "$0")/lib.sh"

umask 022
mkdir -m 755 "$REPO"
init_repo
[[ $(stat -c %a "$REPO") == 700 ]] || fail "init left the existing repository directory $(stat -c %a "$REPO")"

gen_tree "$T/src"
id=$(do_backup --path "$T/src")
sr restore --repo "$REPO" --backup "$id" --to "$T/restore"

check_modes() {
  local bad
  bad=$(find "$REPO" -type f ! -perm 600 -printf '%m %P\n')
  [[ -z $bad ]] || fail "repository files not 0600: $bad"
  bad=$(find "$REPO" -type d ! -perm 700 -printf '%m %P\n')
  [[ -z $bad ]] || fail "repository directories not 0700: $bad"
}
check_modes
for kind in config keys data index manifests; do
  [[ -n $(find "$REPO" -path "$REPO/$kind*" -type f -print -quit) ]] || fail "no $kind object to check"
done

# A second key slot (key add) is private too.
(umask 077 && printf 'second-pw\n' >"$T/pw2")
STRONGROOM_NEW_PASSWORD_FILE=$T/pw2 sr key add --repo "$REPO"
check_modes

pass
