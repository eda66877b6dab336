#!/usr/bin/env bash
# Asynchronous archiving still fails loudly on a conflict: when the repository already holds a
# different file under a segment's name, the background pusher leaves that segment to
# PostgreSQL's own call (DIR/refused/NAME), and the call exits non-zero with the "DIFFERENT
# content" error instead of waiting for the pusher or spooling it. The other segments are pushed
# ahead as usual. No server is needed: a pg_wal directory with .ready files is what the pusher
# watches.
source "$(dirname "$0")/lib.sh"
init_repo
PGWAL=$T/pg_wal SPOOL=$T/spool
mkdir -p "$PGWAL/archive_status" "$T/other"
SEGS=(000000010000000000000001 000000010000000000000002 000000010000000000000003)
for s in "${SEGS[@]}"; do
  # No long page header at the start (so no system identifier to check), then random bytes.
  { head -c 64 /dev/zero; head -c $((1048576 - 64)) /dev/urandom; } >"$PGWAL/$s"
  touch "$PGWAL/archive_status/$s.ready"
done
# Another file under the first segment's name is already in the repository.
cp "$PGWAL/${SEGS[0]}" "$T/other/${SEGS[0]}"
printf 'XXXX' | dd of="$T/other/${SEGS[0]}" bs=1 seek=4096 conv=notrunc 2>/dev/null
sr wal-push --repo "$REPO" "$T/other/${SEGS[0]}"

# The conflicting segment: a loud failure, quickly (not after the 30 s wait for the pusher).
start=$SECONDS
expect_exit nonzero "$SR" wal-push --repo "$REPO" --async-spool "$SPOOL" "$PGWAL/${SEGS[0]}"
expect_error_line
grep -q 'DIFFERENT content' "$ERR" || fail "no conflict error: $(cat "$ERR")"
((SECONDS - start < 20)) || fail "the conflicting call took $((SECONDS - start)) s"
[[ -z $(find "$SPOOL" -maxdepth 1 -name '0000000*') ]] || fail "the conflicting segment was spooled"

# The others are pushed (ahead by the pusher, or by their calls) and read back intact.
for s in "${SEGS[@]:1}"; do
  sr wal-push --repo "$REPO" --async-spool "$SPOOL" "$PGWAL/$s"
  sr wal-get --repo "$REPO" "$s" "$T/back-$s"
  cmp -s "$PGWAL/$s" "$T/back-$s" || fail "$s differs after the round trip"
done
pkill -f -- "--async-spool $SPOOL" || true
pass
