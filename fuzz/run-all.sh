#!/usr/bin/env bash
# Runs every cargo-fuzz target (or the ones named) for SECONDS each and reports which found
# something. Crashes land in fuzz/artifacts/<target>/, logs in fuzz/target/fuzz-logs/.
#   fuzz/run-all.sh [SECONDS] [TARGET...]        (SECONDS defaults to 60)
# Installs cargo-fuzz when it is missing. Uses the nightly toolchain when one is installed;
# otherwise the stable one with RUSTC_BOOTSTRAP=1 and no sanitizer (FUZZ_SANITIZER overrides
# the sanitizer either way).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
export PATH="$HOME/.cargo/bin:$PATH"

secs=${1:-60}
case "$secs" in
  '' | *[!0-9]*) echo "usage: fuzz/run-all.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "run-all.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked || exit 1
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=${FUZZ_SANITIZER:-address}
else
  echo "run-all.sh: no nightly toolchain: stable with RUSTC_BOOTSTRAP=1, no sanitizer" >&2
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  sanitizer=${FUZZ_SANITIZER:-none}
fi
# Debug assertions on: integer overflow is a finding.
flags=(--sanitizer "$sanitizer" --debug-assertions)
# FUZZ_DEV=1: the dev profile (much quicker to build; CI's short run uses it).
[ "${FUZZ_DEV:-0}" = 1 ] && flags+=(--dev)

# Start from the main workspace's versions of every shared dependency.
if [ ! -f fuzz/Cargo.lock ] || [ Cargo.lock -nt fuzz/Cargo.lock ]; then
  cp Cargo.lock fuzz/Cargo.lock
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi
[ ${#targets[@]} -gt 0 ] || { echo "run-all.sh: no fuzz targets" >&2; exit 1; }

echo "=== building ${#targets[@]} fuzz targets"
"${fuzz[@]}" build "${flags[@]}" || exit 1

logs=fuzz/target/fuzz-logs
mkdir -p "$logs"
passed=0
failed=()
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus (kept between runs); the committed seeds are read-only.
  scratch=fuzz/target/corpus/$t
  mkdir -p "$scratch" "fuzz/corpus/$t"
  extra=(-timeout=10 -rss_limit_mb=2048)
  case "$t" in
    layer_unpack | archive_untar) extra+=(-max_len=65536) ;;
  esac
  echo "=== $t (${secs}s)"
  if "${fuzz[@]}" run "${flags[@]}" "$t" "$scratch" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" "${extra[@]}" >"$logs/$t.log" 2>&1; then
    passed=$((passed + 1))
    grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)' "$logs/$t.log" | tail -n 1
  else
    failed+=("$t")
    echo "--- $t found something (fuzz/artifacts/$t/, full log $logs/$t.log):"
    tail -n 40 "$logs/$t.log"
  fi
done

echo "fuzz: ${passed} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { echo "failed targets: ${failed[*]}"; exit 1; }
