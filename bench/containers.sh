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
# Goals: run --rm <= 0.25x podman's time; parallel throughput >= 3x podman's; ps -a with 1000
# containers <= 0.2x podman's time. BENCH_SKIP_PODMAN=1 (or no podman installed): podapid only.
#
# Configuration: podapid runs with CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf and
# CONTAINERS_CONF=fixtures/containers.conf (its own default network podapidtest, 10.89.240.0/24
# on bridge podapidtest0). podman runs with --root/--runroot/--tmpdir/--network-config-dir and
# TMPDIR inside its temporary directory, with /etc/containers/registries.conf.d/50-anchor-mirror.conf
# (or CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf when that drop-in is absent), and with
# CONTAINERS_CONF set to a copy of the system containers.conf files (runc, cgroupfs, ulimits as
# the host's podman has them) whose [network] default_network is "podbench": a network file
# written into its --network-config-dir puts that on bridge podbench0, 10.89.241.0/24. Without
# it the private podman would use the host's default network `podman` (bridge podman0,
# 10.88.0.0/16, netavark's iptables chains named after the network) with an IPAM database of its
# own, handing out addresses that a podman service already running on this host (e.g.
# /run/podman/podman.sock) may have given to its containers.
#
# Everything started here is stopped on exit; containers still present are force-removed first,
# leftover mounts under the temporary directory are unmounted and the directory is removed. A
# registry this script had to start is stopped again. Only unix sockets and 127.0.0.1 are used.
# BENCH_KEEP_LOGS=DIR copies the servers' logs (DIR/bench-podapid.log, DIR/bench-podman.log)
# before the temporary directory goes.
# shellcheck disable=SC2034  # the result arrays are read by row() through a nameref
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

RUN_RUNS=${BENCH_RUN_RUNS:-10}
RUN_WARMUPS=2
PARALLEL=${BENCH_PARALLEL:-50}
PS_CONTAINERS=${BENCH_PS_CONTAINERS:-1000}
PS_RUNS=${BENCH_PS_RUNS:-5}
CREATE_JOBS=${BENCH_CREATE_JOBS:-8}
KEEP_LOGS=${BENCH_KEEP_LOGS:-}
REGISTRY=127.0.0.1:5000
IMAGE=busybox
PODAPID_REGISTRIES_CONF=$REPO_DIR/fixtures/registries.conf
PODAPID_CONTAINERS_CONF=$REPO_DIR/fixtures/containers.conf
PODMAN_REGISTRIES_CONF= # set below when podman has no drop-in rewriting docker.io
PODMAN_NETWORK=podbench
PODMAN_BRIDGE=podbench0
PODMAN_SUBNET=10.89.241.0/24
PODMAN_GATEWAY=10.89.241.1

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ arguments ---
BIN=${1:-}
if [ -z "$BIN" ]; then
  for candidate in "$REPO_DIR/target/release/podapid" "$REPO_DIR/target/debug/podapid"; do
    if [ -x "$candidate" ]; then BIN=$candidate; break; fi
  done
fi
[ -n "$BIN" ] || die "no podapid binary: build one or pass its path"
[ -x "$BIN" ] || die "$BIN is not executable"
BIN=$(realpath "$BIN")
for tool in curl docker awk xargs sort timeout; do
  command -v "$tool" >/dev/null || die "$tool missing"
done
for n in RUN_RUNS PARALLEL PS_CONTAINERS PS_RUNS CREATE_JOBS; do
  [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer (got '${!n}')"
done
HAVE_PODMAN=
if [ -z "${BENCH_SKIP_PODMAN:-}" ] && command -v podman >/dev/null; then HAVE_PODMAN=1; fi
[ -f "$PODAPID_REGISTRIES_CONF" ] || die "$PODAPID_REGISTRIES_CONF missing"
[ -f "$PODAPID_CONTAINERS_CONF" ] || die "$PODAPID_CONTAINERS_CONF missing"
if [ ! -e /etc/containers/registries.conf.d/50-anchor-mirror.conf ]; then
  PODMAN_REGISTRIES_CONF=$PODAPID_REGISTRIES_CONF
fi

# ------------------------------------------------------ process handling ---
WORK=$(mktemp -d /tmp/podapid-cbench.XXXXXX) # short: podman wants a runroot of <= 50 characters
export DOCKER_CONFIG=$WORK/docker-config # keep the CLI away from ~/.docker
mkdir -p "$DOCKER_CONFIG"
PIDS=()           # servers this script started, stopped on exit
SERVERS=()        # podapid [podman], in the order they were started
STARTED_REGISTRY= # set when fixtures/registry.sh start had to start the registry
declare -A SOCK PID

alive() { # PID: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_pid() { # PID: SIGTERM, up to 10 s grace, then SIGKILL; reap it
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
}

unmount_under() { # DIR: overlay mounts, shm and netns bind mounts left under DIR
  local dir=$1 mnt _round
  for _round in 1 2 3; do
    mnt=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ -n "$mnt" ] || return 0
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <<<"$mnt"
  done
}

# stray_pids: processes whose command line names $WORK (conmon and container monitors that a
# server started for its containers), other than the servers themselves
stray_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ " ${PIDS[*]} " == *" $p "* || $p == "$$" ]] && continue
    cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    [[ $cmd != *"$WORK/"* ]] || echo "$p"
  done
}

dk() { # SERVER DOCKER-ARGS...: the docker CLI against that server
  local s=$1
  shift
  DOCKER_HOST=unix://${SOCK[$s]} docker "$@"
}

count_containers() { # SERVER: entries of `docker ps -aq` (-1 when the CLI fails)
  local out
  out=$(timeout 120 docker -H "unix://${SOCK[$1]}" ps -aq 2>/dev/null) || { echo -1; return; }
  grep -c . <<<"$out" || true
}

remove_all() { # SERVER: prune, then force-remove whatever is still listed; prints what is left
  local s=$1
  timeout 600 curl -s -o /dev/null -X POST --unix-socket "${SOCK[$s]}" http://d/v1.41/containers/prune || true
  timeout 120 docker -H "unix://${SOCK[$s]}" ps -aq 2>/dev/null |
    timeout 600 xargs -r -n 100 docker -H "unix://${SOCK[$s]}" rm -f >/dev/null 2>&1 || true
  count_containers "$s"
}

cleanup() {
  local i s left strays
  trap - EXIT INT TERM
  for s in "${SERVERS[@]}"; do # containers first, while their server still runs
    alive "${PID[$s]}" || continue
    left=$(count_containers "$s")
    if [ "$left" != 0 ]; then
      say "cleanup: $s still has $left containers: removing them"
      left=$(remove_all "$s")
      [ "$left" = 0 ] || say "cleanup: WARNING: $s still lists $left containers"
    fi
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  strays=$(stray_pids | paste -sd' ' -)
  if [ -n "$strays" ]; then
    say "cleanup: WARNING: processes still running from $WORK after the servers stopped: $strays"
    for i in $strays; do say "  $i: $(tr '\0' ' ' <"/proc/$i/cmdline" 2>/dev/null | cut -c1-200)"; done
    # shellcheck disable=SC2086  # a list of pids
    kill -KILL $strays 2>/dev/null || true
    sleep 0.2
  fi
  if [ -n "$KEEP_LOGS" ]; then
    mkdir -p "$KEEP_LOGS"
    for s in "${SERVERS[@]}"; do cp "$WORK/$s.log" "$KEEP_LOGS/bench-$s.log" 2>/dev/null || true; done
  fi
  unmount_under "$WORK"
  rm -rf "$WORK"
  if [ -n "$HAVE_PODMAN" ] && ip link show "$PODMAN_BRIDGE" >/dev/null 2>&1; then
    say "cleanup: bridge $PODMAN_BRIDGE (the private podman's) is still there: deleting it"
    ip link delete "$PODMAN_BRIDGE" 2>/dev/null || true
  fi
  if [ -n "$STARTED_REGISTRY" ]; then bash "$REPO_DIR/fixtures/registry.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# podman_conf DIR: writes DIR/containers.conf (the system containers.conf files merged, tables
# joined and later keys winning, as podman reads them, plus [network] default_network and
# default_subnet) and DIR/networks/$PODMAN_NETWORK.json (that network on its own bridge)
podman_conf() {
  local dir=$1 files=() f id
  for f in /usr/share/containers/containers.conf /etc/containers/containers.conf \
    /etc/containers/containers.conf.d/*.conf; do
    [ -f "$f" ] && files+=("$f")
  done
  awk -v net="$PODMAN_NETWORK" -v subnet="$PODMAN_SUBNET" '
    function flush_key() {
      if (key == "") return
      if (!((sec, key) in val)) order[sec] = order[sec] SUBSEP key
      val[sec, key] = text
      key = ""
    }
    function depth(s,   t, o, c) { # [ minus ] outside double-quoted strings
      t = s; gsub(/"[^"]*"/, "", t); o = gsub(/\[/, "[", t); c = gsub(/\]/, "]", t); return o - c
    }
    BEGIN { sec = ""; nsec = 0; seen[""] = 1; secs[nsec++] = "" }
    { sub(/\r$/, "") }
    open > 0 { text = text "\n" $0; open += depth($0); if (open <= 0) { open = 0; flush_key() }; next }
    /^[ \t]*(#|$)/ { next }
    /^[ \t]*\[/ {
      flush_key(); sec = $0; sub(/[ \t]*#.*/, "", sec); gsub(/^[ \t]+|[ \t]+$/, "", sec)
      if (!(sec in seen)) { seen[sec] = 1; secs[nsec++] = sec }
      next
    }
    /=/ {
      key = $0; sub(/[ \t]*=.*/, "", key); gsub(/^[ \t]+/, "", key); text = $0
      v = $0; sub(/^[^=]*=/, "", v); open = depth(v); if (open <= 0) { open = 0; flush_key() }
      next
    }
    END {
      if (!("[network]" in seen)) secs[nsec++] = "[network]"
      for (i = 0; i < nsec; i++) {
        s = secs[i]
        if (s != "") print s
        if (s == "[network]") { delete val[s, "default_network"]; delete val[s, "default_subnet"] }
        n = split(order[s], ks, SUBSEP)
        for (j = 2; j <= n; j++) if ((s, ks[j]) in val) print val[s, ks[j]]
        if (s == "[network]") printf "default_network = \"%s\"\ndefault_subnet = \"%s\"\n", net, subnet
      }
    }' "${files[@]}" >"$dir/containers.conf"
  id=$(printf '%s' "bench-$PODMAN_NETWORK" | sha256sum | cut -c1-64)
  mkdir -p "$dir/networks"
  cat >"$dir/networks/$PODMAN_NETWORK.json" <<EOF
{
  "name": "$PODMAN_NETWORK",
  "id": "$id",
  "driver": "bridge",
  "network_interface": "$PODMAN_BRIDGE",
  "created": "2026-01-01T00:00:00Z",
  "subnets": [{"subnet": "$PODMAN_SUBNET", "gateway": "$PODMAN_GATEWAY"}],
  "ipv6_enabled": false,
  "internal": false,
  "dns_enabled": false,
  "ipam_options": {"driver": "host-local"}
}
EOF
}

# launch KIND: start a server with fresh state under $WORK/KIND, listening on $WORK/KIND.sock
# (the `{ export; exec; } &` forks once, like a plain `cmd &`, so $! is the server itself)
# shellcheck disable=SC2030,SC2031  # the exports are meant for the backgrounded server only
launch() {
  local kind=$1 dir=$WORK/$1
  SOCK[$kind]=$WORK/$kind.sock
  mkdir -p "$dir"
  case $kind in
    podapid)
      {
        export CONTAINERS_REGISTRIES_CONF=$PODAPID_REGISTRIES_CONF
        export CONTAINERS_CONF=$PODAPID_CONTAINERS_CONF
        exec "$BIN" --root "$dir/root" --runroot "$dir/runroot" service "unix://${SOCK[$kind]}" -t 0
      } >"$WORK/$kind.log" 2>&1 &
      ;;
    podman)
      mkdir -p "$dir/tmp"
      podman_conf "$dir"
      {
        export TMPDIR=$dir/tmp
        export CONTAINERS_CONF=$dir/containers.conf
        [ -z "$PODMAN_REGISTRIES_CONF" ] || export CONTAINERS_REGISTRIES_CONF=$PODMAN_REGISTRIES_CONF
        exec podman --root "$dir/root" --runroot "$dir/runroot" --tmpdir "$dir/tmp" \
          --network-config-dir "$dir/networks" system service --time=0 "unix://${SOCK[$kind]}"
      } >"$WORK/$kind.log" 2>&1 &
      ;;
  esac
  PID[$kind]=$!
  PIDS+=("${PID[$kind]}")
  SERVERS+=("$kind")
}

wait_ping() { # SERVER: until GET /_ping answers 200 on its socket (30 s max)
  local s=$1 i
  for ((i = 0; i < 600; i++)); do
    curl -fs -o /dev/null -m 2 --unix-socket "${SOCK[$s]}" http://d/_ping && return 0
    alive "${PID[$s]}" || { tail -n 20 "$WORK/$s.log" >&2; die "$s exited during startup"; }
    sleep 0.05
  done
  tail -n 20 "$WORK/$s.log" >&2
  die "$s did not answer /_ping within 30 s"
}

registry_has_image() { # the registry serves the manifest docker.io/library/$IMAGE is rewritten to
  curl -fsI -o /dev/null -m 5 \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/docker.io/library/$IMAGE/manifests/latest"
}

ensure_registry() {
  if ! curl -fs -o /dev/null -m 2 "http://$REGISTRY/v2/"; then
    say "no registry at $REGISTRY: starting one with fixtures/registry.sh"
    STARTED_REGISTRY=1
    bash "$REPO_DIR/fixtures/registry.sh" start || die "could not start the registry (fixtures/setup.sh installs it)"
  fi
  if ! registry_has_image; then
    say "$IMAGE missing from the registry: pushing the fixture images"
    bash "$REPO_DIR/fixtures/registry.sh" push || die "could not push the fixture images"
    registry_has_image || die "the registry still does not serve docker.io/library/$IMAGE"
  fi
}

# ------------------------------------------------------------ measuring ---
ms_since() { # T0 (an EPOCHREALTIME): milliseconds from T0 to now
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

median() { # numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

errlog() { # SERVER WHAT FILE: append FILE (a failed CLI's output) to $WORK/SERVER.errors
  { printf '== %s\n' "$2"; head -c 2000 "$3"; echo; } >>"$WORK/$1.errors"
}

# run_once SERVER: one timed `docker run --rm busybox true`; sets RUN_MS and RUN_RC
run_once() {
  local s=$1 t0 out=$WORK/run.out
  t0=$EPOCHREALTIME
  RUN_RC=0
  dk "$s" run --rm "$IMAGE" true >"$out" 2>&1 || RUN_RC=$?
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
      DOCKER_HOST=unix://${SOCK[$s]} docker run --rm "$IMAGE" true >"$dir/$i.out" 2>&1 || rc=$?
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
    -H 'Content-Type: application/json' -d "{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"]}" \
    http://d/v1.41/containers/create | sort | uniq -c | tr -s ' ' | paste -sd, -)
  CREATE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }')
  CREATED=$(count_containers "$s")
  say "$s: $PS_CONTAINERS creates (count HTTP-status):$codes in $CREATE_S s; docker ps -aq lists $CREATED"
}

# ------------------------------------------------------------------ run ---
declare -A RUN_MED RUN_FAILED RUN_LEFT PAR_RATE PAR_WALL PAR_FAIL PAR_LEFT PAR_LEFT_LATER
declare -A PS_MED PS_LISTED CREATE_TIME PRUNE_TIME PRUNE_LEFT

build_kind=debug
[[ $BIN == */release/* ]] && build_kind=release
PODMAN_LABEL=podman
say "podapid: $BIN ($build_kind build; $("$BIN" --version 2>/dev/null || echo 'version ?'))"
if [ -n "$HAVE_PODMAN" ]; then
  PODMAN_LABEL="podman $(podman --version | awk '{print $NF}')"
  say "podman:  $(command -v podman) ($(podman --version))"
else say "podman not measured: podapid only"; fi
say "docker CLI: $(command -v docker) ($(docker --version))"
say "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (other load skews every number)"
say "work directory: $WORK"
ensure_registry
T_START=$EPOCHREALTIME

launch podapid
[ -z "$HAVE_PODMAN" ] || launch podman
for s in "${SERVERS[@]}"; do
  wait_ping "$s"
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
row "\`docker run --rm busybox true\` median ms ($RUN_RUNS runs)" RUN_MED lower "<= 0.25x podman"
row "  failed timed runs (of $RUN_RUNS)" RUN_FAILED - -
row "  \`ps -aq\` leftovers after them (after <= 10 s)" RUN_LEFT - -
row "$PARALLEL parallel \`docker run --rm\`: containers/s" PAR_RATE higher ">= 3x podman"
row "  $PARALLEL parallel: wall time s" PAR_WALL lower -
row "  $PARALLEL parallel: failed runs" PAR_FAIL - -
row "  $PARALLEL parallel: \`ps -aq\` leftovers (at once)" PAR_LEFT - -
row "  $PARALLEL parallel: \`ps -aq\` leftovers (after <= 10 s)" PAR_LEFT_LATER - -
row "\`docker ps -a\` median ms ($PS_CONTAINERS containers)" PS_MED lower "<= 0.2x podman"
row "  containers listed by \`ps -aq\`" PS_LISTED - -
row "  creating $PS_CONTAINERS ($CREATE_JOBS parallel curl): s" CREATE_TIME lower -
row "  POST /containers/prune of them: s" PRUNE_TIME lower -
row "  containers left after that prune" PRUNE_LEFT - -
echo
echo "ratio: how many times better podapid is (containers/s: podapid/podman; times: podman/podapid)."
echo "podapid $build_kind build $BIN; docker CLI $(docker --version | awk '{print $3}' | tr -d ,) over unix sockets;"
echo "  $(nproc) CPUs, load average at end $(cut -d' ' -f1-3 /proc/loadavg); measuring took" \
  "$(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s."
[ -z "$HAVE_PODMAN" ] || echo "podman: default network $PODMAN_NETWORK ($PODMAN_SUBNET on $PODMAN_BRIDGE); podapid: fixtures/containers.conf (podapidtest)."
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
