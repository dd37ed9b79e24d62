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
exec cargo test --workspace "$@"
