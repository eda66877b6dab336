# Object-storage test servers for strongroom's end-to-end tests. Source after tests/e2e/lib.sh.
#
#   start_azurite DIR [CERT KEY]
#                       Azurite (blob service) on a free loopback port, data in DIR; exports
#                       AZURE_STORAGE_CONNECTION_STRING (dev account devstoreaccount1, path-style
#                       BlobEndpoint) and AZURITE_PORT. With CERT and KEY (PEM files) it serves
#                       HTTPS and the BlobEndpoint is https://
#   start_s3rver DIR [CERT KEY]
#                       s3rver on a free loopback port, data in DIR; exports AWS_ACCESS_KEY_ID,
#                       AWS_SECRET_ACCESS_KEY (S3RVER/S3RVER), AWS_REGION, AWS_ENDPOINT_URL and
#                       S3RVER_PORT. With CERT and KEY it serves HTTPS (AWS_ENDPOINT_URL https://)
#   make_test_ca DIR    a throwaway CA (DIR/ca.pem) and a server certificate it signed for
#                       127.0.0.1 / localhost (DIR/server.pem, DIR/server.key), with the openssl CLI
#   start_faultproxy TARGET_PORT SEED [ARGS...]
#                       tests/servers/faultproxy.py in front of 127.0.0.1:TARGET_PORT; sets
#                       FAULTPROXY_PORT and FAULTPROXY_LOG (one line per injected fault)
#   free_port           prints a free loopback TCP port
# Every server is stopped by its PID when the test exits, and its data directory removed.
# The npm packages (pinned in tests/servers/package-lock.json) are installed by `./run test`;
# when they are missing, `npm ci` runs here once.

SERVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER_PIDS=()
SERVER_DIRS=()

AZURITE_ACCOUNT=devstoreaccount1
# Azurite's published development key (not a secret).
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

servers_stop_all() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  SERVER_PIDS=()
  local d
  for d in "${SERVER_DIRS[@]}"; do rm -rf "$d"; done
  SERVER_DIRS=()
}

# Run servers_stop_all before whatever EXIT trap is set already (lib.sh removes $T).
_servers_prev_trap=$(trap -p EXIT)
if [[ -n $_servers_prev_trap ]]; then
  eval "set -- $_servers_prev_trap"
  trap "servers_stop_all; $3" EXIT
else
  trap servers_stop_all EXIT
fi
set --

servers_ensure_installed() {
  if [[ ! -f $SERVERS_DIR/node_modules/azurite/package.json || ! -f $SERVERS_DIR/node_modules/s3rver/package.json ]]; then
    command -v npm >/dev/null || fail "npm is not installed (./run test installs it)"
    npm ci --prefix "$SERVERS_DIR" --no-audit --no-fund --loglevel=error >&2 ||
      fail "npm ci in $SERVERS_DIR failed"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID NAME LOG: until PORT accepts connections (30 s), or fail with the log.
wait_port() {
  local port=$1 pid=$2 name=$3 log=$4 i
  for ((i = 0; i < 300; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || fail "$name exited before answering: $(tail -n 20 "$log")"
    sleep 0.1
  done
  fail "$name did not answer on port $port within 30 s: $(tail -n 20 "$log")"
}

start_azurite() {
  local dir=$1 cert=${2:-} key=${3:-} port scheme=http tls=()
  servers_ensure_installed
  mkdir -p "$dir"
  port=$(free_port)
  if [[ -n $cert ]]; then
    scheme=https
    tls=(--cert "$cert" --key "$key")
  fi
  node "$SERVERS_DIR/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 \
    --blobPort "$port" --location "$dir" --silent --loose --skipApiVersionCheck \
    --disableTelemetry "${tls[@]}" >"$dir.log" 2>&1 &
  SERVER_PIDS+=($!)
  SERVER_DIRS+=("$dir")
  wait_port "$port" $! azurite "$dir.log"
  AZURITE_PORT=$port
  export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$scheme://127.0.0.1:$port/$AZURITE_ACCOUNT;"
}

start_s3rver() {
  local dir=$1 cert=${2:-} key=${3:-} port scheme=http tls=()
  servers_ensure_installed
  mkdir -p "$dir"
  port=$(free_port)
  if [[ -n $cert ]]; then
    scheme=https
    tls=(--cert "$cert" --key "$key")
  fi
  # --openssl-legacy-provider: without it s3rver answers 500 to paged ListObjectsV2 on Node >= 17.
  node --openssl-legacy-provider "$SERVERS_DIR/node_modules/s3rver/bin/s3rver.js" -d "$dir" \
    -a 127.0.0.1 -p "$port" --no-vhost-buckets --silent "${tls[@]}" >"$dir.log" 2>&1 &
  SERVER_PIDS+=($!)
  SERVER_DIRS+=("$dir")
  wait_port "$port" $! s3rver "$dir.log"
  S3RVER_PORT=$port
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
  export AWS_ENDPOINT_URL="$scheme://127.0.0.1:$port"
  unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3
}

make_test_ca() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 2 -subj "/CN=strongroom test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>"$d/openssl.log" || fail "openssl: $(cat "$d/openssl.log")"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout "$d/server.key" \
    -out "$d/server.csr" 2>>"$d/openssl.log" || fail "openssl: $(cat "$d/openssl.log")"
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$d/server.ext"
  openssl x509 -req -sha256 -days 2 -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -CAcreateserial -extfile "$d/server.ext" -out "$d/server.pem" 2>>"$d/openssl.log" ||
    fail "openssl: $(cat "$d/openssl.log")"
}

start_faultproxy() {
  local target=$1 seed=$2 port
  shift 2
  port=$(free_port)
  FAULTPROXY_LOG=$(mktemp "${T:-/tmp}/faultproxy.XXXXXX")
  python3 "$SERVERS_DIR/faultproxy.py" --listen "$port" --target "127.0.0.1:$target" \
    --seed "$seed" --log "$FAULTPROXY_LOG" "$@" 2>"$FAULTPROXY_LOG.stderr" &
  SERVER_PIDS+=($!)
  wait_port "$port" $! faultproxy "$FAULTPROXY_LOG.stderr"
  FAULTPROXY_PORT=$port
}
