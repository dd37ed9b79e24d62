#!/usr/bin/env bash
# Builds and runs the podapid daemon as root on a Debian 12 machine, doing all set-up first
# (runc, conmon, netavark, catatonit... and the local fixture registry the default
# registries.conf drop-in points docker.io/quay.io at).
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
exec ./target/release/podapid --log-level "${PODAPID_LOG_LEVEL:-info}" service "${1:-unix:///run/podapid/podapid.sock}" --time 0
