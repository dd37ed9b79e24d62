#!/usr/bin/env bash
# Builds and runs the podapid daemon as root on a Debian 12 machine, doing all set-up first
# (runc, conmon, netavark, catatonit... and the local fixture registry on 127.0.0.1:5000).
# Image names resolve through fixtures/registries.conf (docker.io and quay.io rewritten to
# that registry: this machine kind has no internet) unless CONTAINERS_REGISTRIES_CONF is set.
#   dev/run.sh [URI]        default URI: unix:///run/podapid/podapid.sock
# Then: DOCKER_HOST=unix:///run/podapid/podapid.sock docker version
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "dev/run.sh: run as root" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
bash fixtures/setup.sh
command -v cargo >/dev/null || { apt-get install -y -q cargo >/dev/null; }
cargo build --release -p podapid
export CONTAINERS_REGISTRIES_CONF="${CONTAINERS_REGISTRIES_CONF:-$here/fixtures/registries.conf}"
exec ./target/release/podapid --log-level "${PODAPID_LOG_LEVEL:-info}" service "${1:-unix:///run/podapid/podapid.sock}" --time 0
