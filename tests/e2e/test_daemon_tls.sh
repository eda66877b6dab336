#!/usr/bin/env bash
# The daemon's API over TLS (server.tls_cert, server.tls_key): HTTPS answers with the token,
# plain HTTP does not, `strongroom status` and `run-now` reach it (trusting server.tls_cert),
# and a certificate that cannot be loaded stops serve at start with a message.
source "$(dirname "$0")/lib.sh"
init_repo
PORT=$(free_port)
mkdir -p "$T/data" && echo ledger >"$T/data/a.txt"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
chmod 600 "$T/tls.key"
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$T/token")
TOKEN=$(cat "$T/token")
write_cfg() {  # CERT
  cat >"$T/sr.yaml" <<YAML
repositories:
  primary: {url: $REPO, password_file: $STRONGROOM_PASSWORD_FILE}
sources:
  docs: {type: files, kind: configuration, paths: [$T/data]}
server:
  listen: 127.0.0.1:$PORT
  token_file: $T/token
  state_dir: $T/state
  tls_cert: $1
  tls_key: $T/tls.key
YAML
}
write_cfg "$T/tls.crt"
"$SR" serve --config "$T/sr.yaml" >"$T/serve.out" 2>"$T/serve.log" &
SERVE=$!
PREV_TRAP=$(trap -p EXIT)
eval "set -- $PREV_TRAP"
# shellcheck disable=SC2064  # the earlier trap's text, expanded now
trap "kill -9 $SERVE 2>/dev/null || true; $3" EXIT
for _ in $(seq 100); do curl -sf --cacert "$T/tls.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf --cacert "$T/tls.crt" "https://127.0.0.1:$PORT/healthz" | grep -q ok || fail "no HTTPS: $(cat "$T/serve.log")"
grep -q "listening on https://127.0.0.1:$PORT/" "$T/serve.log" || fail "log: $(cat "$T/serve.log")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls.crt" "https://127.0.0.1:$PORT/api/status")
[[ $code == 401 ]] || fail "no token over HTTPS: $code"
curl -sf --cacert "$T/tls.crt" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/status" | grep -q '"name":"docs"' ||
  fail "status over HTTPS"
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && fail "plain HTTP answered on the TLS port"
sr run-now --config "$T/sr.yaml" --job backup --source docs
for _ in $(seq 100); do
  "$SR" status --config "$T/sr.yaml" --json 2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["daemon"] and s["sources"][0]["last_job"] and s["sources"][0]["last_job"]["state"]=="ok" else 1)' && break
  sleep 0.2
done
sr status --config "$T/sr.yaml"
grep -q "from the daemon" "$OUT" || fail "status did not reach the daemon over HTTPS: $(cat "$OUT" "$ERR")"
kill -TERM "$SERVE"; wait "$SERVE" || fail "serve exit status"

# A certificate that cannot be loaded: serve refuses to start, naming the settings.
echo "not a certificate" >"$T/bad.crt"
write_cfg "$T/bad.crt"
expect_exit 2 "$SR" serve --config "$T/sr.yaml"
grep -q "tls_cert" "$ERR" || fail "bad certificate message: $(cat "$ERR")"
pass
