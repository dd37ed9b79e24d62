#!/usr/bin/env bash
# Property-based API testing with schemathesis (PyPI) against the OpenAPI document podapid
# serves at /libpod/swagger: every operation is called with generated path parameters
# (positive and negative), and the answers must never be a 5xx, must match the documented
# status codes and schemas, and errors must be the {"cause","message","response"} envelope.
#
#   dev/schemathesis.sh [PODAPID_BINARY] [MAX_EXAMPLES]     (as root; default: target/debug/podapid, 10)
#
# A daemon of its own (temporary root, 127.0.0.1 TCP port) is started and stopped here.
# Operations that would reach a registry or another host (pull, push, search, login, build,
# kube play/apply, manifest add/push), that stream until the client leaves (attach, exec
# start, events, logs, stats, wait) and the deliberate refusals (swarm stubs, checkpoint,
# restore, image scp, secret update) are excluded; tests/tests/openapi.rs covers those calls.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/podapid}
EXAMPLES=${2:-10}
VENV=${PODAPID_ST_VENV:-/var/tmp/podapid-st}
[ -x "$BIN" ] || { echo "no $BIN: cargo build -p podapid first" >&2; exit 2; }
if [ ! -x "$VENV/bin/st" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis>=4,<5'
fi

WORK=$(mktemp -d /tmp/podapid-st.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  # Reap what the generated calls may have left: conmons of this root, then its mounts.
  pkill -f "conmon.*$WORK" 2>/dev/null || true
  grep " $WORK" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

printf '[network]\ndefault_network = "stnet"\ndefault_subnet = "10.94.0.0/24"\n' >"$WORK/containers.conf"
CONTAINERS_CONF_OVERRIDE="$WORK/containers.conf" \
CONTAINERS_REGISTRIES_CONF="$PWD/fixtures/registries.conf" \
  "$BIN" --root "$WORK/root" --runroot "$WORK/run" service -t 0 "tcp://127.0.0.1:$PORT" \
  2>"$WORK/daemon.log" &
PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/_ping" >/dev/null && break; sleep 0.05; done

# Path templates in the document are relative to the version prefix, as in Podman's spec:
# the schema given to schemathesis carries it (compat /v1.41, libpod /v4.9.5).
curl -sf "http://127.0.0.1:$PORT/v4.9.5/libpod/swagger" | python3 -c '
import json, sys
d = json.load(sys.stdin)
unversioned = {"/secret/{name}"}  # registered without the version prefix only, as in Podman
d["paths"] = {(p if p in unversioned else ("/v4.9.5" if p.startswith("/libpod/") else "/v1.41") + p): v for p, v in d["paths"].items()}
json.dump(d, sys.stdout)' >"$WORK/openapi.json"

EXCLUDE='/(images/create|images/pull|images/[^/]+/push|images/search|auth|build|kube|play|manifests|attach|exec|events|logs|stats|wait|checkpoint|restore|scp|swarm|nodes|services|tasks|configs|plugins|distribution|monitor|secrets/\{path\}|secrets/\{name\}/update|system/prune|images/prune|images/load|images/import|containers/create|libpod/pods/create)'

rc=0
cd "$WORK"  # schemathesis keeps a cache directory in the current one
"$VENV/bin/st" run "$WORK/openapi.json" \
  --url "http://127.0.0.1:$PORT" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path-regex "$EXCLUDE" \
  --max-examples "$EXAMPLES" \
  --workers 1 \
  --request-timeout 30 \
  --phases examples,fuzzing \
  --suppress-health-check all \
  --no-color 2>&1 | tee "$WORK/st.log" || rc=$?
if ! kill -0 "$PID" 2>/dev/null; then
  echo "podapid died during the run:" >&2
  tail -20 "$WORK/daemon.log" >&2
  rc=1
fi
if grep -q "panicked" "$WORK/daemon.log"; then
  echo "a handler panicked:" >&2
  grep -A3 panicked "$WORK/daemon.log" >&2
  rc=1
fi
exit $rc
