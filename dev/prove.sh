#!/usr/bin/env bash
# The long reliability runs in one command (as root, after dev/test.sh has set the machine up):
# crash/concurrency/soak at full size, property tests with many cases, every fuzz target for a
# while, and schemathesis with many examples. CI runs the short versions of each (dev/test.sh).
#   dev/prove.sh [FUZZ_SECONDS_PER_TARGET]       (default 600; takes a few hours in all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
fuzz_secs=${1:-600}
rc=0
run() { echo "=== $*"; "$@" || rc=1; }
run env PODAPID_STRESS=long cargo test -p podapid --test stress -- --test-threads=1 --nocapture
run env PROPTEST_CASES="${PROPTEST_CASES:-20000}" cargo test -p engine -p api-core --test prop_parsers
cargo build -p podapid
run bash dev/schemathesis.sh target/debug/podapid "${PODAPID_ST_EXAMPLES:-200}"
run bash fuzz/run-all.sh "$fuzz_secs"
echo "=== dev/prove.sh: $([ $rc = 0 ] && echo all passed || echo FAILURES above)"
exit $rc
