#!/usr/bin/env bash
# The one benchmark command: podapid against a real `podman system service` on this machine, in
# the same run, same images from the local registry, same clients. Runs bench/bench.sh (API:
# /_ping, /libpod/info, idle RSS, cold start, pull, /images/json), bench/containers.sh (docker
# run --rm, 50 parallel, ps -a with 1,000 containers and the RSS with them) and bench/io.sh
# (docker logs and docker cp of 100 MB) one after the other, then prints one markdown table of
# the headline figures with ratios and goals, and writes it to bench/results/latest.md.
#
# Usage: bench/all.sh [PODAPID_BIN]      (as root, like the scripts it runs)
#   PODAPID_BIN defaults to target/release/podapid. Nothing is built here: build it first with
#   `cargo build --release -p podapid`.
#
# Output: BENCH_RESULTS_DIR (default bench/results) gets run-<UTC time>/ with each script's full
# output (<script>.log), its result rows (<script>.tsv: key, metric, podapid, podman; written by
# the scripts because BENCH_TSV_DIR points there), the servers' logs (server-logs/) and the
# table (table.md); the table is also copied to BENCH_RESULTS_DIR/latest.md.
# Every knob of the three scripts (BENCH_*, see their headers) passes through, e.g.
# BENCH_SKIP_PODMAN=1 for podapid alone, BENCH_NETWORK=none for containers.sh's containers
# (bench/io.sh always uses --network none). BENCH_SCRIPTS="bench io" runs a subset (rows of the
# scripts not run show n/a). A script that fails does not stop the others (its rows show n/a and
# the exit status is 1); Ctrl-C stops the script running (it cleans up) and then this one.
#
# Ratio column: podapid / podman as measured, so above 1 is better for req/s and containers/s,
# below 1 for times and memory. Goals: /_ping req/s >= 5x podman's, `docker run --rm` <= 0.25x
# podman's time, idle RSS <= 10 MB (absolute); the other rows have none.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

say() { printf '[all] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

BIN=${1:-$REPO_DIR/target/release/podapid}
if [ ! -x "$BIN" ]; then
  say "no podapid binary at $BIN"
  say "build it first:  (cd $REPO_DIR && cargo build --release -p podapid)"
  say "then run:        bench/all.sh [path/to/podapid]"
  exit 2
fi
BIN=$(realpath "$BIN")
[[ $BIN == */release/* ]] || say "WARNING: $BIN is not under a release/ directory: benchmark a release build"
[ "$(id -u)" = 0 ] || say "WARNING: not root: the scripts start rootful servers, mount and run containers"
read -r -a SCRIPTS <<<"${BENCH_SCRIPTS:-bench containers io}"
for sc in "${SCRIPTS[@]}"; do [ -f "$BENCH_DIR/$sc.sh" ] || die "no bench/$sc.sh (BENCH_SCRIPTS)"; done

RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
RUN_DIR=$RESULTS_DIR/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN_DIR"
RESULTS_DIR=$(realpath "$RESULTS_DIR")
RUN_DIR=$(realpath "$RUN_DIR")
export BENCH_TSV_DIR=$RUN_DIR
export BENCH_KEEP_LOGS=${BENCH_KEEP_LOGS:-$RUN_DIR/server-logs}

PODMAN_LABEL=podman
if [ -z "${BENCH_SKIP_PODMAN:-}" ] && command -v podman >/dev/null; then
  PODMAN_LABEL="podman $(podman --version | awk '{print $NF}')"
fi

INTERRUPTED=
trap 'INTERRUPTED=1' INT TERM # acted on once the running script has finished its cleanup
T0=$EPOCHREALTIME
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A STATUS
FAILED=
for sc in "${SCRIPTS[@]}"; do
  if [ -n "$INTERRUPTED" ]; then STATUS[$sc]="not run (interrupted)"; continue; fi
  say "bench/$sc.sh $BIN  (full output: $RUN_DIR/$sc.log)"
  t0=$EPOCHREALTIME
  rc=0
  # tee ignores INT/TERM so the script's clean-up messages still have a reader after a Ctrl-C
  bash "$BENCH_DIR/$sc.sh" "$BIN" 2>&1 | (trap '' INT TERM; exec tee "$RUN_DIR/$sc.log") || rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
  if [ "$rc" = 0 ]; then STATUS[$sc]="ok, ${secs} s"; else
    STATUS[$sc]="FAILED (exit $rc after ${secs} s; see $sc.log)"
    FAILED=1
  fi
  say "bench/$sc.sh: ${STATUS[$sc]}"
  ((rc != 130 && rc != 143)) || INTERRUPTED=1
done
TOTAL_S=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# ------------------------------------------------------------- table ---
declare -A A B # "script:KEY" -> podapid's / podman's value
for sc in "${SCRIPTS[@]}"; do
  [ -f "$RUN_DIR/$sc.tsv" ] || continue
  while IFS=$'\t' read -r key _metric a b; do
    [ -n "$key" ] || continue
    A[$sc:$key]=$a
    B[$sc:$key]=$b
  done <"$RUN_DIR/$sc.tsv"
done

is_num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

fmt() { # a value as shown: n/a when missing, whole numbers from 1,000 up
  local v=${1:-}
  if [ -z "$v" ] || [ "$v" = - ]; then echo n/a
  elif is_num "$v" && awk -v v="$v" 'BEGIN { exit !(v >= 1000) }'; then printf '%.0f\n' "$v"
  else echo "$v"; fi
}

# row LABEL SCRIPT:KEY GOAL: GOAL is "ge F" (ratio >= F), "le F" (ratio <= F), "abs F UNIT"
# (podapid's value <= F) or -
row() {
  local label=$1 ref=$2 a b ratio=n/a goal=– met=– kind f unit
  a=${A[$ref]:-} b=${B[$ref]:-}
  read -r kind f unit <<<"$3"
  if is_num "$a" && is_num "$b" && awk -v a="$a" -v b="$b" 'BEGIN { exit !(a > 0 && b > 0) }'; then
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { r = a / b
      printf (r >= 100 ? "%.0f×" : (r >= 10 ? "%.1f×" : (r >= 0.1 ? "%.2f×" : "%.2g×"))), r }')
  fi
  case $kind in
    ge | le)
      goal="$([ "$kind" = ge ] && echo "≥" || echo "≤") ${f}× podman"
      met='?'
      if [ "$ratio" != n/a ]; then
        met=$(awk -v a="$a" -v b="$b" -v f="$f" -v k="$kind" 'BEGIN {
          r = a / b; print ((k == "ge") ? (r >= f) : (r <= f)) ? "yes" : "no" }')
      fi
      ;;
    abs)
      goal="≤ $f $unit"
      met='?'
      if is_num "$a"; then met=$(awk -v a="$a" -v f="$f" 'BEGIN { print (a <= f) ? "yes" : "no" }'); fi
      ;;
  esac
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(fmt "$a")" "$(fmt "$b")" "$ratio" "$goal" "$met"
}

commas() { # N: 1000 -> 1,000
  awk -v n="$1" 'BEGIN { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); print s }'
}

RUN_RUNS=${BENCH_RUN_RUNS:-10}
PARALLEL=${BENCH_PARALLEL:-50}
PS_CONTAINERS=$(commas "${BENCH_PS_CONTAINERS:-1000}")
N_IMAGES=${BENCH_IMAGES:-200}
PULL_RUNS=${BENCH_PULL_RUNS:-5}
COLD_RUNS=${BENCH_COLD_RUNS:-10}
IO_RUNS=${BENCH_IO_RUNS:-3}
NET="default bridge network"
[ -z "${BENCH_NETWORK:-}" ] || NET="--network $BENCH_NETWORK"
LOG_MB=$(awk -v n="${BENCH_LOG_LINES:-1000000}" 'BEGIN { printf "%g", n * 100 / 1e6 }')
CP_MB=$(awk -v n="${BENCH_CP_BYTES:-100000000}" 'BEGIN { printf "%g", n / 1e6 }')

table() {
  echo "| metric | podapid | $PODMAN_LABEL | ratio | goal | met |"
  echo "|---|---:|---:|---:|---|---|"
  row "\`/_ping\` req/s (wrk -t2 -c16 ${BENCH_WRK_DURATION:-5s}, direct TCP)" bench:PING_TCP "ge 5"
  row "\`/libpod/info\` mean latency, ms (${BENCH_INFO_RUNS:-20} requests)" bench:INFO -
  row "\`docker run --rm busybox true\` wall time, ms (median of $RUN_RUNS; $NET)" containers:RUN_MED "le 0.25"
  row "$PARALLEL parallel \`docker run --rm busybox true\`, containers/s ($NET)" containers:PAR_RATE -
  row "\`docker ps -a\` with $PS_CONTAINERS containers, ms (median of ${BENCH_PS_RUNS:-5})" containers:PS_MED -
  row "\`GET /images/json\` with $N_IMAGES images, req/s (wrk -t2 -c16, direct TCP)" bench:IMGLIST_RPS -
  row "pull of a 3-layer image, ms (median of $PULL_RUNS, each after a forced removal)" bench:PULL -
  row "\`docker logs\` of $LOG_MB MB, ms (median of $IO_RUNS)" io:LOGS -
  row "\`docker cp\` of $CP_MB MB into a container, ms (median of $IO_RUNS)" io:CP_IN -
  row "\`docker cp\` of $CP_MB MB out of a container, ms (median of $IO_RUNS)" io:CP_OUT -
  row "daemon RSS idle (after a warm-up request), MB" bench:RSS_IDLE "abs 10 MB"
  row "daemon RSS with $PS_CONTAINERS containers (after \`ps -a\`), MB" containers:RSS_PS -
  row "cold start to the first \`/_ping\`, ms (median of $COLD_RUNS)" bench:COLD -
}

notes() {
  local sc warnings
  echo "Ratio: podapid / podman as measured (above 1 is better for req/s and containers/s, below 1"
  echo "for times and memory)."
  echo
  echo "Run $STARTED: $(nproc) CPUs, load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end;"
  local docker_version
  docker_version=$("${BENCH_DOCKER:-/usr/local/bin/docker}" --version 2>/dev/null | awk '{ print $3 }' | tr -d ,) || true
  echo "podapid $BIN ($("$BIN" --version 2>/dev/null || echo 'version ?')); $PODMAN_LABEL;" \
    "docker CLI ${docker_version:-?}; $TOTAL_S s in all."
  for sc in "${SCRIPTS[@]}"; do
    warnings=0
    [ ! -f "$RUN_DIR/$sc.log" ] || warnings=$(awk '/WARNING/ { n++ } END { print n + 0 }' "$RUN_DIR/$sc.log")
    echo "bench/$sc.sh: ${STATUS[$sc]}; lines with WARNING in its output: $warnings."
  done
  echo "Full output, result rows and server logs: $RUN_DIR"
}

{ table; echo; notes; } >"$RUN_DIR/table.md"
cp "$RUN_DIR/table.md" "$RESULTS_DIR/latest.md"
echo
cat "$RUN_DIR/table.md"
echo
say "table written to $RESULTS_DIR/latest.md"
[ -z "$INTERRUPTED" ] || exit 130
[ -z "$FAILED" ] || exit 1
