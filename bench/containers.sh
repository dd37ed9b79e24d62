#!/usr/bin/env bash
# Container benchmark: podapid against the real `podman system service`, side by side in one run,
# both driven by the docker CLI (DOCKER_HOST=unix://<socket>). A measurement, not a test: it
# always exits 0 once the numbers are printed.
#
# Usage: bench/containers.sh [PODAPID_BIN]
#   PODAPID_BIN defaults to target/release/podapid, else target/debug/podapid.
#
# Each server gets fresh temporary --root/--runroot directories and a temporary unix socket, and
# busybox is pulled into it first (`docker pull -q busybox`, rewritten to the local registry at
# 127.0.0.1:5000, which is started and filled by fixtures/registry.sh when needed). Measured per
# server, one server at a time:
#   run --rm        wall time of `docker run --rm busybox true`: 2 warm-ups, then the median of
#                   BENCH_RUN_RUNS (10) runs, in ms (bash EPOCHREALTIME around the CLI)
#   parallel        BENCH_PARALLEL (50) `docker run --rm busybox true` started in the background
#                   at once; the wall time until all have exited gives containers/s; runs that
#                   exit non-zero are counted (and their first error lines logged). Afterwards
#                   `docker ps -aq` must be empty: leftovers are counted at once and again after
#                   up to 10 s (late auto-removal), then force-removed
#   ps -a           BENCH_PS_CONTAINERS (1000) containers are created, not started, with
#                   POST /v1.41/containers/create {"Image":"busybox","Cmd":["true"]}, 8 at a time
#                   (curl via xargs -P, BENCH_CREATE_JOBS); then the median of BENCH_PS_RUNS (5)
#                   `docker ps -a >/dev/null` wall times, in ms; then all are removed
#                   (POST /v1.41/containers/prune, then `docker rm -f` for anything it left)
#   RSS             VmRSS of the server process with those containers, after the `ps -a` runs
# BENCH_NETWORK=none (or another network name) runs every container with --network NAME (the
# creates with HostConfig.NetworkMode); by default each server's default bridge network is used.
# Goals: run --rm <= 0.25x podman's time; parallel throughput >= 3x podman's; ps -a with 1000
# containers <= 0.2x podman's time. BENCH_SKIP_PODMAN=1 (or no podman installed): podapid only.
#
# Configuration (bench/lib.sh, CONTAINER_SETUP=1): podapid runs with
# CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf and CONTAINERS_CONF=fixtures/containers.conf
# (its own default network podapidtest, 10.89.240.0/24 on bridge podapidtest0). podman runs with
# --root/--runroot/--tmpdir/--network-config-dir and TMPDIR inside its temporary directory, with
# /etc/containers/registries.conf.d/50-anchor-mirror.conf (or
# CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf when that drop-in is absent), and with
# CONTAINERS_CONF set to a copy of the system containers.conf files (runc, cgroupfs, ulimits as
# the host's podman has them) whose [network] default_network is "podbench": a network file
# written into its --network-config-dir puts that on bridge podbench0, 10.89.241.0/24 (so it
# never shares the host's podman0 or its IPAM with a podman service already running here).
# The docker CLI is /usr/local/bin/docker (else the one on PATH; BENCH_DOCKER overrides it).
#
# Everything started here is stopped on exit; containers still present are force-removed first,
# leftover mounts under the temporary directory are unmounted and the directory is removed. A
# registry this script had to start is stopped again. Only unix sockets and 127.0.0.1 are used.
# BENCH_KEEP_LOGS=DIR copies the servers' logs (DIR/bench-podapid.log, DIR/bench-podman.log)
# before the temporary directory goes. BENCH_TSV_DIR=DIR also writes the table's rows to
# DIR/containers.tsv for bench/all.sh (key, metric, podapid, podman; see bench/lib.sh).
# shellcheck disable=SC2034  # the result arrays are read by row() through a nameref
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_RUNS=${BENCH_RUN_RUNS:-10}
RUN_WARMUPS=2
PARALLEL=${BENCH_PARALLEL:-50}
PS_CONTAINERS=${BENCH_PS_CONTAINERS:-1000}
PS_RUNS=${BENCH_PS_RUNS:-5}
CREATE_JOBS=${BENCH_CREATE_JOBS:-8}
NETWORK=${BENCH_NETWORK:-} # empty: each server's default network (the bridges below); e.g. none
IMAGE=busybox
CONTAINER_SETUP=1 # podapid: fixtures/containers.conf; podman: podman_conf (bench/lib.sh)

# ------------------------------------------------------------ arguments ---
bench_bin "${1:-}"
need_tools curl awk xargs sort timeout
for n in RUN_RUNS PARALLEL PS_CONTAINERS PS_RUNS CREATE_JOBS; do
  [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer (got '${!n}')"
done
detect_podman

# ------------------------------------------------------ process handling ---
bench_workdir /tmp/podapid-cbench.XXXXXX # short: podman wants a runroot of <= 50 characters
use_docker_cli

[[ $NETWORK =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ || -z $NETWORK ]] || die "BENCH_NETWORK: bad network name '$NETWORK'"
NET_ARGS=()       # docker run arguments
CREATE_HOSTCONFIG= # the same in the create requests' JSON
if [ -n "$NETWORK" ]; then
  NET_ARGS=(--network "$NETWORK")
  CREATE_HOSTCONFIG=",\"HostConfig\":{\"NetworkMode\":\"$NETWORK\"}"
fi

# ------------------------------------------------------------ measuring ---
# run_once SERVER: one timed `docker run --rm busybox true`; sets RUN_MS and RUN_RC
run_once() {
  local s=$1 t0 out=$WORK/run.out
  t0=$EPOCHREALTIME
  RUN_RC=0
  dk "$s" run --rm "${NET_ARGS[@]}" "$IMAGE" true >"$out" 2>&1 || RUN_RC=$?
  RUN_MS=$(ms_since "$t0")
  if [ "$RUN_RC" != 0 ]; then
    errlog "$s" "docker run --rm (exit $RUN_RC)" "$out"
    say "$s: docker run --rm exited $RUN_RC: $(head -c 300 "$out" | tr '\n' ' ')"
  fi
}

# leftovers SERVER WHAT: counts `docker ps -aq` now and, if not empty, again after up to 10 s;
# sets LEFT_NOW and LEFT_LATER, logs what is left, then force-removes it
leftovers() {
  local s=$1 what=$2 i
  LEFT_NOW=$(count_containers "$s")
  LEFT_LATER=$LEFT_NOW
  if [ "$LEFT_NOW" != 0 ]; then
    for ((i = 0; i < 20; i++)); do
      sleep 0.5
      LEFT_LATER=$(count_containers "$s")
      [ "$LEFT_LATER" != 0 ] || break
    done
    say "$s: WARNING: $LEFT_NOW containers left right after $what, $LEFT_LATER after $(((i + 1) / 2)) s more:"
    dk "$s" ps -a --no-trunc --format '  {{.ID}} {{.Status}} {{.Command}}' 2>&1 | head -n 10 >&2 || true
    if [ "$LEFT_LATER" != 0 ]; then
      local rest
      rest=$(remove_all "$s")
      say "$s: force-removed them ($rest left)"
    fi
  fi
}

# parallel_runs SERVER: PARALLEL `docker run --rm` at once; sets PAR_S, PAR_FAILED
parallel_runs() {
  local s=$1 dir=$WORK/parallel-$1 i t0 pids=() rc
  mkdir -p "$dir"
  t0=$EPOCHREALTIME
  for ((i = 1; i <= PARALLEL; i++)); do
    {
      rc=0
      DOCKER_HOST=unix://${SOCK[$s]} "$DOCKER" run --rm "${NET_ARGS[@]}" "$IMAGE" true >"$dir/$i.out" 2>&1 || rc=$?
      echo "$rc" >"$dir/$i.rc"
    } &
    pids+=("$!")
  done
  wait "${pids[@]}" || true
  PAR_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }')
  PAR_FAILED=0
  for ((i = 1; i <= PARALLEL; i++)); do
    rc=$(cat "$dir/$i.rc" 2>/dev/null || echo missing)
    if [ "$rc" != 0 ]; then
      PAR_FAILED=$((PAR_FAILED + 1))
      errlog "$s" "parallel run $i (exit $rc)" "$dir/$i.out"
    fi
  done
  if ((PAR_FAILED > 0)); then
    say "$s: $PAR_FAILED of $PARALLEL parallel runs failed; their errors (count, first line):"
    for ((i = 1; i <= PARALLEL; i++)); do
      [ "$(cat "$dir/$i.rc" 2>/dev/null)" = 0 ] || head -n 1 "$dir/$i.out"
    done | sort | uniq -c | sort -rn | head -n 5 >&2
  fi
}

# create_many SERVER: PS_CONTAINERS containers created (not started), CREATE_JOBS at a time;
# sets CREATE_S and CREATED (how many `docker ps -aq` then lists)
create_many() {
  local s=$1 t0 codes
  t0=$EPOCHREALTIME
  codes=$(seq 1 "$PS_CONTAINERS" | xargs -P "$CREATE_JOBS" -I{} \
    curl -s -o /dev/null -w '%{http_code}\n' -X POST --unix-socket "${SOCK[$s]}" \
    -H 'Content-Type: application/json' -d "{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"]$CREATE_HOSTCONFIG}" \
    http://d/v1.41/containers/create | sort | uniq -c | tr -s ' ' | paste -sd, -)
  CREATE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }')
  CREATED=$(count_containers "$s")
  say "$s: $PS_CONTAINERS creates (count HTTP-status):$codes in $CREATE_S s; docker ps -aq lists $CREATED"
}

# ------------------------------------------------------------------ run ---
declare -A RUN_MED RUN_FAILED RUN_LEFT PAR_RATE PAR_WALL PAR_FAIL PAR_LEFT PAR_LEFT_LATER
declare -A PS_MED PS_LISTED RSS_PS CREATE_TIME PRUNE_TIME PRUNE_LEFT

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
T_START=$EPOCHREALTIME

SERVERS=(podapid)
[ -z "$HAVE_PODMAN" ] || SERVERS+=(podman)
for s in "${SERVERS[@]}"; do start_server "$s"; done
for s in "${SERVERS[@]}"; do
  wait_server "$s"
  say "$s up on ${SOCK[$s]} (pid ${PID[$s]}); pulling $IMAGE"
  t0=$EPOCHREALTIME
  dk "$s" pull -q "$IMAGE" >"$WORK/pull.out" 2>&1 || { cat "$WORK/pull.out" >&2; die "$s: docker pull $IMAGE failed"; }
  say "$s: pulled $(head -n 1 "$WORK/pull.out") in $(ms_since "$t0") ms"
done

for s in "${SERVERS[@]}"; do
  say "$s: docker run --rm $IMAGE true: $RUN_WARMUPS warm-ups, $RUN_RUNS timed"
  failed=0 samples=() warm=()
  for ((i = 0; i < RUN_WARMUPS; i++)); do
    run_once "$s"
    warm+=("$RUN_MS")
  done
  for ((i = 0; i < RUN_RUNS; i++)); do
    run_once "$s"
    if [ "$RUN_RC" = 0 ]; then samples+=("$RUN_MS"); else failed=$((failed + 1)); fi
  done
  say "$s run --rm (ms): warm-ups ${warm[*]}; timed ${samples[*]:-none}"
  RUN_MED[$s]=$( ((${#samples[@]} > 0)) && printf '%s\n' "${samples[@]}" | median || echo n/a)
  RUN_FAILED[$s]=$failed
  leftovers "$s" "the sequential runs"
  RUN_LEFT[$s]=$LEFT_LATER
done

for s in "${SERVERS[@]}"; do
  say "$s: $PARALLEL x docker run --rm $IMAGE true in parallel"
  parallel_runs "$s"
  PAR_WALL[$s]=$PAR_S
  PAR_FAIL[$s]=$PAR_FAILED
  PAR_RATE[$s]=$(awk -v n="$PARALLEL" -v t="$PAR_S" 'BEGIN { printf "%.1f\n", (t > 0) ? n / t : 0 }')
  say "$s: $PARALLEL parallel runs in $PAR_S s (${PAR_RATE[$s]} containers/s), $PAR_FAILED failed"
  leftovers "$s" "the parallel runs"
  PAR_LEFT[$s]=$LEFT_NOW
  PAR_LEFT_LATER[$s]=$LEFT_LATER
done

for s in "${SERVERS[@]}"; do
  say "$s: creating $PS_CONTAINERS containers ($CREATE_JOBS at a time), then $PS_RUNS x docker ps -a"
  create_many "$s"
  CREATE_TIME[$s]=$CREATE_S
  PS_LISTED[$s]=$CREATED
  samples=() failed=0
  for ((i = 0; i < PS_RUNS; i++)); do
    t0=$EPOCHREALTIME
    rc=0
    dk "$s" ps -a >/dev/null 2>"$WORK/ps.err" || rc=$?
    ms=$(ms_since "$t0")
    if [ "$rc" = 0 ]; then samples+=("$ms"); else
      failed=$((failed + 1))
      errlog "$s" "docker ps -a (exit $rc)" "$WORK/ps.err"
      say "$s: docker ps -a exited $rc: $(head -c 300 "$WORK/ps.err")"
    fi
  done
  say "$s ps -a with ${PS_LISTED[$s]} containers (ms): ${samples[*]:-none}"
  PS_MED[$s]=$( ((${#samples[@]} > 0 && failed == 0)) && printf '%s\n' "${samples[@]}" | median || echo n/a)
  RSS_PS[$s]=$(rss_mb "${PID[$s]}")
  say "$s: daemon RSS with those ${PS_LISTED[$s]} containers: ${RSS_PS[$s]} MB"
  t0=$EPOCHREALTIME
  code=$(timeout 600 curl -s -o "$WORK/prune.out" -w '%{http_code}' -X POST --unix-socket "${SOCK[$s]}" \
    http://d/v1.41/containers/prune) || code="curl failed ($?)"
  PRUNE_TIME[$s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }')
  PRUNE_LEFT[$s]=$(count_containers "$s")
  say "$s: prune: HTTP $code in ${PRUNE_TIME[$s]} s, $(grep -o '"[0-9a-f]\{64\}"' "$WORK/prune.out" | wc -l) ids" \
    "reported, ${PRUNE_LEFT[$s]} containers left"
  if [ "${PRUNE_LEFT[$s]}" != 0 ]; then
    say "$s: removing the rest with docker rm -f: $(remove_all "$s") left"
  fi
done
T_END=$EPOCHREALTIME

# ---------------------------------------------------------------- report ---
# row METRIC KEY BETTER GOAL: BETTER is lower, higher or - (no ratio); GOAL "<= F x podman"
# or ">= F x podman" (F the factor), or -
row() {
  local metric=$1 better=$3 goal=$4 a b ratio met
  local -n values=$2
  a=${values[podapid]}
  b=${values[podman]:-}
  ratio=- met=-
  if [ -n "$b" ] && [ "$better" != - ]; then
    ratio=$(awk -v a="$a" -v b="$b" -v h="$better" 'BEGIN {
      if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || a <= 0 || b <= 0) { print "n/a"; exit }
      printf "%.1fx\n", (h == "higher") ? a / b : b / a }')
  fi
  if [ "$goal" != - ]; then
    met=$(awk -v a="$a" -v b="$b" -v g="$goal" 'BEGIN {
      if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) { print "?"; exit }
      f = g; sub(/^[<>]= */, "", f); f += 0
      ok = (g ~ /^<=/) ? (a <= f * b) : (a >= f * b)
      print ok ? "yes" : "NO" }')
  fi
  tsv_row "$2" "$metric" "$a" "$b"
  if [ -n "$HAVE_PODMAN" ]; then
    printf '| %s | %s | %s | %s | %s | %s |\n' "$metric" "$a" "$b" "$ratio" "$goal" "$met"
  else
    printf '| %s | %s | %s | %s |\n' "$metric" "$a" "$goal" "$met"
  fi
}

echo
if [ -n "$HAVE_PODMAN" ]; then
  echo "| metric | podapid | $PODMAN_LABEL | ratio | goal | met |"
  echo "|---|---:|---:|---:|---|---|"
else
  echo "| metric | podapid | goal | met |"
  echo "|---|---:|---|---|"
fi
row "\`docker run --rm${NETWORK:+ --network $NETWORK} busybox true\` median ms ($RUN_RUNS runs)" RUN_MED lower "<= 0.25x podman"
row "  failed timed runs (of $RUN_RUNS)" RUN_FAILED - -
row "  \`ps -aq\` leftovers after them (after <= 10 s)" RUN_LEFT - -
row "$PARALLEL parallel \`docker run --rm${NETWORK:+ --network $NETWORK}\`: containers/s" PAR_RATE higher ">= 3x podman"
row "  $PARALLEL parallel: wall time s" PAR_WALL lower -
row "  $PARALLEL parallel: failed runs" PAR_FAIL - -
row "  $PARALLEL parallel: \`ps -aq\` leftovers (at once)" PAR_LEFT - -
row "  $PARALLEL parallel: \`ps -aq\` leftovers (after <= 10 s)" PAR_LEFT_LATER - -
row "\`docker ps -a\` median ms ($PS_CONTAINERS containers)" PS_MED lower "<= 0.2x podman"
row "  containers listed by \`ps -aq\`" PS_LISTED - -
row "  daemon RSS MB with them (after the \`ps -a\` runs)" RSS_PS lower -
row "  creating $PS_CONTAINERS ($CREATE_JOBS parallel curl): s" CREATE_TIME lower -
row "  POST /containers/prune of them: s" PRUNE_TIME lower -
row "  containers left after that prune" PRUNE_LEFT - -
echo
echo "ratio: how many times better podapid is (containers/s: podapid/podman; times and MB: podman/podapid)."
echo "podapid $build_kind build $BIN; docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,) over unix sockets;"
echo "  $(nproc) CPUs, load average at end $(cut -d' ' -f1-3 /proc/loadavg); measuring took" \
  "$(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s."
if [ -n "$NETWORK" ]; then echo "containers with --network $NETWORK (BENCH_NETWORK)."
elif [ -n "$HAVE_PODMAN" ]; then
  echo "podman: default network $PODMAN_NETWORK ($PODMAN_SUBNET on $PODMAN_BRIDGE); podapid: fixtures/containers.conf (podapidtest)."
fi
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
