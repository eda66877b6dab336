#!/usr/bin/env bash
# Issue 10, defect 8: secrets held by strongroom never reach its children, and strongroom itself
# is not dumpable.
# 1. A `--command env` backup, run with storage credentials and the password in strongroom's
#    environment, stores none of them (the child's environment is an allow-list) but keeps PATH.
# 2. Run as an unprivileged user, strongroom is non-dumpable: a child of the same user cannot
#    read its /proc/<pid>/environ (it could before: same user, dumpable process).
source "$(dirname "$0")/lib.sh"

init_repo
id=$(
  export AWS_SECRET_ACCESS_KEY=aws-secret-1 AWS_SESSION_TOKEN=aws-token-2 \
    AZURE_STORAGE_KEY=azure-key-3 AZURE_STORAGE_CONNECTION_STRING=azure-conn-4 \
    AZURE_STORAGE_SAS_TOKEN=azure-sas-5 STRONGROOM_PASSWORD="$PASSWORD" STRONGROOM_OTHER=kept
  do_backup --command env --name env
)
sr restore --repo "$REPO" --backup "$id" --to "$T/env.txt"
for v in aws-secret-1 aws-token-2 azure-key-3 azure-conn-4 azure-sas-5 "$PASSWORD"; do
  grep -qF -- "$v" "$T/env.txt" && fail "a secret reached the --command child: $v"
done
grep -q '^PATH=' "$T/env.txt" || fail "the --command child lost PATH: $(cat "$T/env.txt")"
grep -q '^STRONGROOM_OTHER=kept$' "$T/env.txt" || fail "a non-secret setting was dropped"
note "command child environment scrubbed"

# --- 2. Not dumpable (only observable as an unprivileged user: root may read anyway).
U=nobody
chmod 755 "$T"
mkdir "$T/u" && chown "$U" "$T/u"
(umask 077 && printf '%s\n' "$PASSWORD" >"$T/u/password") && chown "$U" "$T/u/password"
AS_U=(runuser -u "$U" -- env STRONGROOM_PASSWORD_FILE="$T/u/password" HOME="$T/u")
expect_exit 0 "${AS_U[@]}" "$SR" init --repo "$T/u/repo"
probe='if cat /proc/$PPID/environ >/dev/null 2>&1; then echo readable; else echo protected; fi'
expect_exit 0 "${AS_U[@]}" "$SR" backup --repo "$T/u/repo" --command "$probe" --name probe
expect_exit 0 "${AS_U[@]}" "$SR" restore --repo "$T/u/repo" --backup latest --to -
[[ $(cat "$OUT") == protected ]] ||
  fail "strongroom's /proc/<pid>/environ is readable by another process of its user: $(cat "$OUT")"
note "strongroom is not dumpable"

pass
