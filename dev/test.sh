#!/usr/bin/env bash
# Runs podapid's whole test suite as root on a Debian 12 machine, doing all set-up first:
# the packages (runc, conmon, netavark, podman's client, docker-registry, ...), the
# offline fixture images in a local registry on 127.0.0.1:5000, then `cargo test`.
#   dev/test.sh [extra cargo test args]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "dev/test.sh: run as root (containers need it)" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
bash fixtures/setup.sh
command -v cargo >/dev/null || { apt-get install -y -q cargo >/dev/null; }
# The docker CLI is a test client (this machine kind ships it at /usr/local/bin/docker).
command -v docker >/dev/null || echo "dev/test.sh: WARNING: no docker CLI on PATH; its client tests will fail" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
# Hostile input beyond the property tests: schemathesis against the served OpenAPI document
# (PODAPID_ST_EXAMPLES generated cases per operation, 0 skips) and a short run of every
# cargo-fuzz target (PODAPID_FUZZ_SECONDS each, 0 skips). Long runs: README "Proving it".
if [ "$rc" = 0 ] && [ "${PODAPID_ST_EXAMPLES:-10}" != 0 ]; then
  echo "=== schemathesis"
  bash dev/schemathesis.sh target/debug/podapid "${PODAPID_ST_EXAMPLES:-10}" | tail -25 || rc=1
fi
if [ "$rc" = 0 ] && [ "${PODAPID_FUZZ_SECONDS:-5}" != 0 ]; then
  echo "=== fuzz (${PODAPID_FUZZ_SECONDS:-5} s per target)"
  # Quick to build for a short run: the dev profile, no sanitizer (dev/prove.sh uses ASan).
  FUZZ_DEV=${FUZZ_DEV:-1} FUZZ_SANITIZER=${FUZZ_SANITIZER:-none} \
    bash fuzz/run-all.sh "${PODAPID_FUZZ_SECONDS:-5}" || rc=1
fi
exit "$rc"
