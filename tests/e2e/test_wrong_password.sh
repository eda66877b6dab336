#!/usr/bin/env bash
# Wrong password -> exit 4 mentioning the password; no password and no terminal -> clear error,
# no hang. Passwords never show up in any output.
source "$(dirname "$0")/lib.sh"

init_repo
gen_tree "$T/src"
sr backup --repo "$REPO" --path "$T/src"

WRONG="wrong-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(umask 077 && printf '%s\n' "$WRONG" >"$T/wrong-password")

# Wrong password via file.
STRONGROOM_PASSWORD_FILE=$T/wrong-password expect_exit 4 "$SR" backups --repo "$REPO"
grep -qi password "$ERR" || fail "wrong-password error does not mention the password: $(cat "$ERR")"
expect_error_line

# Wrong password via env.
(
  unset STRONGROOM_PASSWORD_FILE
  STRONGROOM_PASSWORD=$WRONG expect_exit 4 "$SR" backups --repo "$REPO"
)

# The right password via env works.
(
  unset STRONGROOM_PASSWORD_FILE
  STRONGROOM_PASSWORD=$PASSWORD expect_exit 0 "$SR" backups --repo "$REPO"
)

# No password at all, stdin not a terminal, no controlling terminal (setsid): must fail cleanly.
(
  unset STRONGROOM_PASSWORD_FILE STRONGROOM_PASSWORD
  expect_exit nonzero setsid -w timeout -k 5 30 "$SR" backups --repo "$REPO" </dev/null
  case $(last_rc) in 124 | 137) fail "strongroom hung waiting for a password without a terminal" ;; esac
  grep -qi password "$ERR" || fail "missing-password error does not mention the password: $(cat "$ERR")"
  expect_error_line
)

# Neither password may ever be printed.
for pw in "$PASSWORD" "$WRONG"; do
  if grep -qF -- "$pw" "$TRANSCRIPT"; then
    fail "a password appeared in strongroom's output"
  fi
done
# ... nor stored in plaintext in the repository.
if grep -rqF -- "$PASSWORD" "$REPO"; then
  fail "the password is stored in plaintext inside the repository"
fi

pass
