#!/usr/bin/env bash
# I/O benchmark: `docker logs` of 100 MB and `docker cp` of 100 MB, podapid against the real
# `podman system service`, side by side in one run, both driven by the same docker CLI
# (/usr/local/bin/docker, DOCKER_HOST=unix://<socket>). A measurement, not a test: it always exits
# 0 once the numbers are printed.
#
# Usage: bench/io.sh [PODAPID_BIN]
#   PODAPID_BIN defaults to target/release/podapid, else target/debug/podapid.
#
# Servers are set up as in bench/containers.sh (bench/lib.sh, CONTAINER_SETUP=1: fresh temporary
# roots, unix sockets, podman with a copy of the system containers.conf, busybox pulled first from
# the local registry at 127.0.0.1:5000). Every container runs with --network none. Measured per
# server, one server at a time:
#   logs     a container writes BENCH_LOG_LINES (1,000,000) lines of 100 bytes (99 x and a
#            newline: busybox `yes LINE | head -n N`), 100 MB, to stdout and exits; the time from
#            `docker run -d` to the end of `docker wait` is reported on its own. One untimed
#            `docker logs <ctr> | wc -c` checks the byte count (and warms the page cache), then
#            the median of BENCH_IO_RUNS (3) `docker logs <ctr> >/dev/null` wall times, in ms
#   cp       a 100 MB file of random bytes (BENCH_CP_BYTES) on the host, a running container
#            (`sh` looping on `sleep 1`, TERM ends it). In: `docker cp -q FILE <ctr>:/cp.bin`,
#            one untimed run that creates /cp.bin, then the median of BENCH_IO_RUNS timed runs
#            (each overwrites it). Out: `docker cp -q <ctr>:/cp.bin FILE` into a host path
#            removed before each run, one untimed run, then the median of BENCH_IO_RUNS timed
#            runs. Every copied-out file is compared with the original (cmp, not timed), which
#            also checks the copies in
# Wall times are bash EPOCHREALTIME around the CLI. BENCH_SKIP_PODMAN=1 (or no podman): podapid
# only. BENCH_KEEP_LOGS=DIR keeps the servers' logs (DIR/io-podapid.log, DIR/io-podman.log);
# BENCH_TSV_DIR=DIR also writes the table's rows to DIR/io.tsv for bench/all.sh.
#
# Everything started here is stopped on exit: containers are removed (after each phase, and
# again on exit if anything is left), the servers stopped, leftover mounts unmounted and the
# temporary directory (servers' roots, the 100 MB files) removed. Needs ~1 GB free in /tmp.
# shellcheck disable=SC2034  # the result arrays are read by row() through a nameref
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IO_RUNS=${BENCH_IO_RUNS:-3}
LOG_LINES=${BENCH_LOG_LINES:-1000000}
CP_BYTES=${BENCH_CP_BYTES:-100000000}
IMAGE=busybox
CONTAINER_SETUP=1
LOGS_PREFIX=io
CLI_TIMEOUT=900 # s, for any one CLI call

# ------------------------------------------------------------ arguments ---
bench_bin "${1:-}"
need_tools curl awk timeout cmp head wc
for n in IO_RUNS LOG_LINES CP_BYTES; do
  [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer (got '${!n}')"
done
detect_podman

# ------------------------------------------------------ process handling ---
bench_workdir /tmp/podapid-iobench.XXXXXX # short: podman wants a runroot of <= 50 characters
use_docker_cli

LINE=$(printf '%099d' 0 | tr 0 x) # 99 bytes; yes adds the newline
LOG_BYTES=$((LOG_LINES * 100))
CP_SRC=$WORK/cp-src.bin
CP_OUT=$WORK/cp-out.bin
LOG_MB=$(awk -v n="$LOG_BYTES" 'BEGIN { printf "%g", n / 1e6 }')
CP_MB=$(awk -v n="$CP_BYTES" 'BEGIN { printf "%g", n / 1e6 }')

# ------------------------------------------------------------ measuring ---
# timed SERVER WHAT OUT DOCKER-ARGS...: one timed docker CLI call against SERVER (stdout to OUT,
# stderr to $WORK/cli.err); sets T_MS and T_RC and logs a failure
timed() {
  local s=$1 what=$2 out=$3 t0
  shift 3
  T_RC=0
  t0=$EPOCHREALTIME
  DOCKER_HOST=unix://${SOCK[$s]} timeout "$CLI_TIMEOUT" "$DOCKER" "$@" >"$out" 2>"$WORK/cli.err" || T_RC=$?
  T_MS=$(ms_since "$t0")
  if [ "$T_RC" != 0 ]; then
    errlog "$s" "$what (exit $T_RC)" "$WORK/cli.err"
    say "$s: $what exited $T_RC: $(head -c 300 "$WORK/cli.err" | tr '\n' ' ')"
  fi
}

# median_or_na SAMPLES...: the median, or n/a when a run failed (fewer samples than IO_RUNS)
median_or_na() {
  if (($# == IO_RUNS)); then printf '%s\n' "$@" | median; else echo n/a; fi
}

remove_ctr() { # SERVER NAME: docker rm -f NAME; warns when it fails
  dk "$1" rm -f "$2" >/dev/null 2>"$WORK/rm.err" ||
    say "$1: WARNING: docker rm -f $2 failed: $(head -c 300 "$WORK/rm.err" | tr '\n' ' ')"
}

# logs_bench SERVER: sets WRITE_MS, LOGS_BYTES, LOGS_DRIVER, LOGS_MS
logs_bench() {
  local s=$1 name=io-logs-$1 t0 code samples=() i
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2016  # $1 and $2 are the container shell's
  dk "$s" run -d --network none --name "$name" "$IMAGE" \
    sh -c 'yes "$1" | head -n "$2"' sh "$LINE" "$LOG_LINES" >"$WORK/run.out" 2>&1 ||
    { cat "$WORK/run.out" >&2; die "$s: docker run -d (log writer) failed"; }
  code=$(DOCKER_HOST=unix://${SOCK[$s]} timeout "$CLI_TIMEOUT" "$DOCKER" wait "$name" 2>"$WORK/cli.err") ||
    { cat "$WORK/cli.err" >&2; die "$s: docker wait $name failed"; }
  WRITE_MS=$(ms_since "$t0")
  [ "$code" = 0 ] || say "$s: WARNING: the log writer exited $code"
  LOGS_DRIVER=$(dk "$s" inspect --format '{{.HostConfig.LogConfig.Type}}' "$name" 2>/dev/null || echo '?')
  LOGS_BYTES=$(DOCKER_HOST=unix://${SOCK[$s]} timeout "$CLI_TIMEOUT" "$DOCKER" logs "$name" 2>"$WORK/cli.err" | wc -c) ||
    say "$s: WARNING: the untimed docker logs failed: $(head -c 300 "$WORK/cli.err" | tr '\n' ' ')"
  say "$s: the container wrote $LOG_LINES lines in $WRITE_MS ms (log driver $LOGS_DRIVER);" \
    "docker logs returns $LOGS_BYTES bytes"
  [ "$LOGS_BYTES" = "$LOG_BYTES" ] ||
    say "$s: WARNING: docker logs returned $LOGS_BYTES bytes, the container wrote $LOG_BYTES"
  for ((i = 0; i < IO_RUNS; i++)); do
    timed "$s" "docker logs" /dev/null logs "$name"
    [ "$T_RC" != 0 ] || samples+=("$T_MS")
  done
  say "$s docker logs (ms): ${samples[*]:-none}"
  LOGS_MS=$(median_or_na "${samples[@]}")
  remove_ctr "$s" "$name"
}

# cp_bench SERVER: sets CP_IN_MS, CP_OUT_MS, CP_BAD (copied-out files that differ)
cp_bench() {
  local s=$1 name=io-cp-$1 ins=() outs=() i
  CP_BAD=0
  # shellcheck disable=SC2016
  dk "$s" run -d --network none --name "$name" "$IMAGE" \
    sh -c 'trap "exit 0" TERM; while :; do sleep 1; done' >"$WORK/run.out" 2>&1 ||
    { cat "$WORK/run.out" >&2; die "$s: docker run -d (cp target) failed"; }
  for ((i = 0; i <= IO_RUNS; i++)); do # run 0: untimed, creates /cp.bin
    timed "$s" "docker cp (in)" "$WORK/cp.out" cp -q "$CP_SRC" "$name:/cp.bin"
    ((i == 0 || T_RC != 0)) || ins+=("$T_MS")
  done
  for ((i = 0; i <= IO_RUNS; i++)); do
    rm -f "$CP_OUT"
    timed "$s" "docker cp (out)" "$WORK/cp.out" cp -q "$name:/cp.bin" "$CP_OUT"
    if [ "$T_RC" = 0 ] && ! cmp -s "$CP_SRC" "$CP_OUT"; then
      CP_BAD=$((CP_BAD + 1))
      say "$s: WARNING: the file copied out ($(stat -c %s "$CP_OUT" 2>/dev/null || echo no) bytes) differs from the one copied in"
      continue
    fi
    ((i == 0 || T_RC != 0)) || outs+=("$T_MS")
  done
  rm -f "$CP_OUT"
  say "$s docker cp in (ms): ${ins[*]:-none}; out (ms): ${outs[*]:-none}; $CP_BAD differing copies"
  CP_IN_MS=$(median_or_na "${ins[@]}")
  CP_OUT_MS=$(median_or_na "${outs[@]}")
  remove_ctr "$s" "$name"
}

# ------------------------------------------------------------------ run ---
declare -A WRITE LOGS LOGS_LEN CP_IN CP_OUT CP_DIFF LEFT

build_kind=debug
[[ $BIN == */release/* ]] && build_kind=release
say "podapid: $BIN ($build_kind build; $("$BIN" --version 2>/dev/null || echo 'version ?'))"
if [ -n "$HAVE_PODMAN" ]; then say "podman:  $(command -v podman) ($(podman --version))"
else say "podman not measured: podapid only"; fi
say "docker CLI: $DOCKER ($("$DOCKER" --version))"
say "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (other load skews every number)"
say "work directory: $WORK"
ensure_registry "docker.io/library/$IMAGE"
tsv_start
say "writing the $CP_BYTES-byte file for docker cp"
head -c "$CP_BYTES" /dev/urandom >"$CP_SRC"
T_START=$EPOCHREALTIME

SERVERS=(podapid)
[ -z "$HAVE_PODMAN" ] || SERVERS+=(podman)
for s in "${SERVERS[@]}"; do start_server "$s"; done
for s in "${SERVERS[@]}"; do
  wait_server "$s"
  say "$s up on ${SOCK[$s]} (pid ${PID[$s]}); pulling $IMAGE"
  dk "$s" pull -q "$IMAGE" >"$WORK/pull.out" 2>&1 || { cat "$WORK/pull.out" >&2; die "$s: docker pull $IMAGE failed"; }
done

for s in "${SERVERS[@]}"; do
  say "$s: docker logs of $LOG_BYTES bytes: 1 untimed, $IO_RUNS timed"
  logs_bench "$s"
  WRITE[$s]=$WRITE_MS
  LOGS[$s]=$LOGS_MS
  LOGS_LEN[$s]=$LOGS_BYTES
done

for s in "${SERVERS[@]}"; do
  say "$s: docker cp of $CP_BYTES bytes in and out: 1 untimed + $IO_RUNS timed each way"
  cp_bench "$s"
  CP_IN[$s]=$CP_IN_MS
  CP_OUT[$s]=$CP_OUT_MS
  CP_DIFF[$s]=$CP_BAD
  LEFT[$s]=$(count_containers "$s")
  [ "${LEFT[$s]}" = 0 ] || say "$s: WARNING: ${LEFT[$s]} containers still listed after the I/O runs"
done
T_END=$EPOCHREALTIME

# ---------------------------------------------------------------- report ---
# row METRIC KEY BETTER: BETTER is lower or - (no ratio)
row() {
  local metric=$1 better=$3 a b ratio=-
  local -n values=$2
  a=${values[podapid]}
  b=${values[podman]:-}
  if [ -n "$b" ] && [ "$better" != - ]; then
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {
      if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || a <= 0 || b <= 0) { print "n/a"; exit }
      printf "%.1fx\n", b / a }')
  fi
  tsv_row "$2" "$metric" "$a" "$b"
  if [ -n "$HAVE_PODMAN" ]; then
    printf '| %s | %s | %s | %s |\n' "$metric" "$a" "$b" "$ratio"
  else
    printf '| %s | %s |\n' "$metric" "$a"
  fi
}

echo
if [ -n "$HAVE_PODMAN" ]; then
  echo "| metric | podapid | $PODMAN_LABEL | ratio |"
  echo "|---|---:|---:|---:|"
else
  echo "| metric | podapid |"
  echo "|---|---:|"
fi
row "\`docker logs\` of $LOG_MB MB, median ms ($IO_RUNS runs)" LOGS lower
row "  bytes \`docker logs\` returned" LOGS_LEN -
row "  the container writing them (\`run -d\` to \`wait\`), ms" WRITE lower
row "\`docker cp\` of $CP_MB MB into a running container, median ms ($IO_RUNS runs)" CP_IN lower
row "\`docker cp\` of $CP_MB MB out of a running container, median ms ($IO_RUNS runs)" CP_OUT lower
row "  copies out that differed from the original" CP_DIFF -
row "  containers left afterwards" LEFT -
echo
echo "ratio: how many times better podapid is (times: podman/podapid)."
echo "podapid $build_kind build $BIN; docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,) over unix sockets;"
echo "  containers with --network none; $(nproc) CPUs, load average at end $(cut -d' ' -f1-3 /proc/loadavg);" \
  "measuring took $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s."
for s in "${SERVERS[@]}"; do
  if [ -s "$WORK/$s.errors" ]; then
    echo "$s: CLI errors were logged (first lines):"
    head -n 12 "$WORK/$s.errors" | sed 's/^/  /'
  fi
  if grep -qiE 'error|warn|panic' "$WORK/$s.log"; then
    echo "$s: its log has $(grep -ciE 'error|warn|panic' "$WORK/$s.log") error/warning lines; the first:"
    grep -iE 'error|warn|panic' "$WORK/$s.log" | head -n 5 | cut -c1-300 | sed 's/^/  /'
  fi
done
true # a measurement: exit 0 once the numbers are printed
