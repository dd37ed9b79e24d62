# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings and results here are read by the scripts sourcing it
# Helpers shared by bench/bench.sh, bench/containers.sh and bench/io.sh (sourced, not run):
# argument and tool checks, starting podapid and a private `podman system service` on fresh
# temporary roots, waiting for them, stopping them (and whatever they left: containers, mounts,
# monitor processes, podman's private bridge, a registry this run had to start) on exit, the
# local registry, a few measuring helpers and the machine-readable result rows.
#
# A script sources it right after `set -euo pipefail`, then calls, in this order:
#   bench_bin "${1:-}"          BIN: the podapid binary (argument, else target/release, else
#                               target/debug)
#   need_tools TOOL...          dies when one is missing
#   detect_podman               HAVE_PODMAN (empty with BENCH_SKIP_PODMAN=1 or no podman),
#                               PODMAN_LABEL ("podman 4.3.1"), PODMAN_REGISTRIES_CONF
#   bench_workdir TEMPLATE      WORK (mktemp -d TEMPLATE) and the EXIT/INT/TERM traps
# Settings a script may change before it starts servers:
#   CONTAINER_SETUP=1           servers that run containers: podapid gets
#                               CONTAINERS_CONF=fixtures/containers.conf, podman a merged copy of
#                               the system containers.conf with its own default network (see
#                               podman_conf); without it (bench.sh) neither gets CONTAINERS_CONF
#   STOP_GRACE_STEPS            SIGTERM grace in 50 ms steps before SIGKILL (200: 10 s)
#   LOGS_PREFIX                 BENCH_KEEP_LOGS=DIR keeps each server's log as
#                               DIR/$LOGS_PREFIX-<name>.log
#   BENCH_TSV_DIR (environment) when set, tsv_row appends "key<TAB>metric<TAB>podapid<TAB>podman"
#                               rows to $BENCH_TSV_DIR/$TSV_NAME.tsv (TSV_NAME: the script's name)
#                               for bench/all.sh; tsv_start empties that file first
# Everything runs on 127.0.0.1 and unix sockets only.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

REGISTRY=127.0.0.1:5000
PODAPID_REGISTRIES_CONF=$REPO_DIR/fixtures/registries.conf
PODAPID_CONTAINERS_CONF=$REPO_DIR/fixtures/containers.conf
PODMAN_REGISTRIES_CONF= # set by detect_podman when podman has no drop-in rewriting docker.io
# podman's own default network when CONTAINER_SETUP=1 (see podman_conf)
PODMAN_NETWORK=podbench
PODMAN_BRIDGE=podbench0
PODMAN_SUBNET=10.89.241.0/24
PODMAN_GATEWAY=10.89.241.1

CONTAINER_SETUP=
STOP_GRACE_STEPS=200
LOGS_PREFIX=bench
KEEP_LOGS=${BENCH_KEEP_LOGS:-}
TSV_NAME=$(basename "$0" .sh)

WORK=
PIDS=()            # every process started here (servers, socat), stopped on exit, last first
LOG_NAMES=()       # launch names: $WORK/<name>.log are the servers' logs
CTR_SERVERS=()     # servers started by start_server: their containers are removed on exit
STARTED_REGISTRY=  # set when fixtures/registry.sh start had to start the registry
USED_PODMAN_BRIDGE= # set when a podman with the private network $PODMAN_NETWORK was started
HAVE_PODMAN=
PODMAN_LABEL=podman
BIN=
DOCKER=
declare -A SOCK PID # start_server: SERVER -> its unix socket and pid

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ arguments ---
bench_bin() { # [PATH]: sets BIN (absolute)
  local candidate
  BIN=${1:-}
  if [ -z "$BIN" ]; then
    for candidate in "$REPO_DIR/target/release/podapid" "$REPO_DIR/target/debug/podapid"; do
      if [ -x "$candidate" ]; then BIN=$candidate; break; fi
    done
  fi
  [ -n "$BIN" ] || die "no podapid binary: build one (cargo build --release -p podapid) or pass its path"
  [ -x "$BIN" ] || die "$BIN is not executable"
  BIN=$(realpath "$BIN")
}

need_tools() { # TOOL...
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool missing (fixtures/setup.sh installs it)"
  done
}

detect_podman() {
  HAVE_PODMAN=
  if [ -z "${BENCH_SKIP_PODMAN:-}" ] && command -v podman >/dev/null; then
    HAVE_PODMAN=1
    PODMAN_LABEL="podman $(podman --version | awk '{print $NF}')"
  fi
  [ -f "$PODAPID_REGISTRIES_CONF" ] || die "$PODAPID_REGISTRIES_CONF missing"
  [ -f "$PODAPID_CONTAINERS_CONF" ] || die "$PODAPID_CONTAINERS_CONF missing"
  if [ ! -e /etc/containers/registries.conf.d/50-anchor-mirror.conf ]; then
    PODMAN_REGISTRIES_CONF=$PODAPID_REGISTRIES_CONF
  fi
}

# use_docker_cli: DOCKER, the docker CLI both servers are driven with (BENCH_DOCKER, else
# /usr/local/bin/docker, else the one on PATH), with a DOCKER_CONFIG of its own under $WORK
use_docker_cli() {
  DOCKER=${BENCH_DOCKER:-}
  if [ -z "$DOCKER" ]; then
    if [ -x /usr/local/bin/docker ]; then DOCKER=/usr/local/bin/docker
    else DOCKER=$(command -v docker) || die "docker CLI missing"; fi
  fi
  [ -x "$DOCKER" ] || die "docker CLI $DOCKER is not executable"
  export DOCKER_CONFIG=$WORK/docker-config # keep the CLI away from ~/.docker
  mkdir -p "$DOCKER_CONFIG"
}

# bench_workdir TEMPLATE: WORK, and cleanup on exit
bench_workdir() {
  WORK=$(mktemp -d "$1")
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# ------------------------------------------------------ process handling ---
alive() { # PID: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_pid() { # PID: SIGTERM, up to STOP_GRACE_STEPS x 50 ms grace, then SIGKILL; reap it
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE_STEPS; i++)); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
}

unmount_under() { # DIR: overlay mounts (podman bind-mounts <root>/overlay onto itself), shm and
  # netns bind mounts left under DIR
  local dir=$1 mnt _round
  for _round in 1 2 3; do
    mnt=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ -n "$mnt" ] || return 0
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done <<<"$mnt"
  done
}

# stray_pids: processes whose command line names $WORK (conmon and container monitors that a
# server started for its containers), other than those this script started
stray_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ " ${PIDS[*]} " == *" $p "* || $p == "$$" ]] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
    [[ $cmd != *"$WORK/"* ]] || echo "$p"
  done
}

dk() { # SERVER DOCKER-ARGS...: the docker CLI against that server
  local s=$1
  shift
  DOCKER_HOST=unix://${SOCK[$s]} "$DOCKER" "$@"
}

count_containers() { # SERVER: entries of `docker ps -aq` (-1 when the CLI fails)
  local out
  out=$(timeout 120 "$DOCKER" -H "unix://${SOCK[$1]}" ps -aq 2>/dev/null) || { echo -1; return; }
  grep -c . <<<"$out" || true
}

remove_all() { # SERVER: prune, then force-remove whatever is still listed; prints what is left
  local s=$1
  timeout 600 curl -s -o /dev/null -X POST --unix-socket "${SOCK[$s]}" http://d/v1.41/containers/prune || true
  timeout 120 "$DOCKER" -H "unix://${SOCK[$s]}" ps -aq 2>/dev/null |
    timeout 600 xargs -r -n 100 "$DOCKER" -H "unix://${SOCK[$s]}" rm -f >/dev/null 2>&1 || true
  count_containers "$s"
}

cleanup() {
  local i s left strays name
  trap - EXIT INT TERM
  for s in "${CTR_SERVERS[@]}"; do # containers first, while their server still runs
    alive "${PID[$s]}" || continue
    left=$(count_containers "$s")
    if [ "$left" != 0 ]; then
      say "cleanup: $s still has $left containers: removing them"
      left=$(remove_all "$s")
      [ "$left" = 0 ] || say "cleanup: WARNING: $s still lists $left containers"
    fi
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if [ -n "$WORK" ]; then
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
      for name in "${LOG_NAMES[@]}"; do
        [ ! -f "$WORK/$name.log" ] || cp "$WORK/$name.log" "$KEEP_LOGS/$LOGS_PREFIX-$name.log" 2>/dev/null || true
      done
    fi
    unmount_under "$WORK"
    rm -rf "$WORK"
  fi
  if [ -n "$USED_PODMAN_BRIDGE" ] && ip link show "$PODMAN_BRIDGE" >/dev/null 2>&1; then
    say "cleanup: bridge $PODMAN_BRIDGE (the private podman's) is still there: deleting it"
    ip link delete "$PODMAN_BRIDGE" 2>/dev/null || true
  fi
  if [ -n "$STARTED_REGISTRY" ]; then bash "$REPO_DIR/fixtures/registry.sh" stop || true; fi
}

# ------------------------------------------------------------- servers ---
# podman_conf DIR: writes DIR/containers.conf (the system containers.conf files merged, tables
# joined and later keys winning, as podman reads them, plus [network] default_network and
# default_subnet) and DIR/networks/$PODMAN_NETWORK.json (that network on its own bridge).
# Without it the private podman would use the host's default network `podman` (bridge podman0,
# 10.88.0.0/16, netavark's iptables chains named after the network) with an IPAM database of its
# own, handing out addresses that a podman service already running on this host (e.g.
# /run/podman/podman.sock) may have given to its containers.
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

# launch KIND NAME URI: start a server (podapid or podman) with fresh state under $WORK/NAME,
# its output in $WORK/NAME.log; sets LAUNCHED_PID. podapid gets
# CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf; podman runs with --root/--runroot/
# --tmpdir/--network-config-dir and TMPDIR inside $WORK/NAME (podman 4.3.1's import handler
# leaves api_load.tar* upload copies in $TMPDIR, /var/tmp by default), with
# /etc/containers/registries.conf.d/50-anchor-mirror.conf or, when that drop-in is absent,
# CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf. With CONTAINER_SETUP=1 both also get a
# CONTAINERS_CONF (see the top of this file).
# (the `{ export; exec; } &` forks once, like a plain `cmd &`, so $! is the server itself)
# shellcheck disable=SC2030,SC2031  # the exports are meant for the backgrounded server only
launch() {
  local kind=$1 name=$2 uri=$3 dir=$WORK/$2
  mkdir -p "$dir"
  case $kind in
    podapid)
      {
        export CONTAINERS_REGISTRIES_CONF=$PODAPID_REGISTRIES_CONF
        [ -z "$CONTAINER_SETUP" ] || export CONTAINERS_CONF=$PODAPID_CONTAINERS_CONF
        exec "$BIN" --root "$dir/root" --runroot "$dir/runroot" service "$uri" -t 0
      } >"$dir.log" 2>&1 &
      ;;
    podman)
      mkdir -p "$dir/tmp" "$dir/networks"
      if [ -n "$CONTAINER_SETUP" ]; then
        podman_conf "$dir"
        USED_PODMAN_BRIDGE=1
      fi
      {
        export TMPDIR=$dir/tmp
        [ -z "$CONTAINER_SETUP" ] || export CONTAINERS_CONF=$dir/containers.conf
        [ -z "$PODMAN_REGISTRIES_CONF" ] || export CONTAINERS_REGISTRIES_CONF=$PODMAN_REGISTRIES_CONF
        exec podman --root "$dir/root" --runroot "$dir/runroot" --tmpdir "$dir/tmp" \
          --network-config-dir "$dir/networks" system service --time=0 "$uri"
      } >"$dir.log" 2>&1 &
      ;;
    *) die "launch: unknown server kind $kind" ;;
  esac
  LAUNCHED_PID=$!
  PIDS+=("$LAUNCHED_PID")
  LOG_NAMES+=("$name")
}

# wait_ping NAME PID CURL-ARGS...: until GET /_ping answers 200 (30 s max)
wait_ping() {
  local name=$1 pid=$2 i
  shift 2
  for ((i = 0; i < 600; i++)); do
    curl -fs -o /dev/null -m 2 "$@" && return 0
    alive "$pid" || { tail -n 20 "$WORK/$name.log" >&2; die "$name exited during startup"; }
    sleep 0.05
  done
  tail -n 20 "$WORK/$name.log" >&2
  die "$name did not answer /_ping within 30 s"
}

# start_server KIND: launch KIND on the unix socket $WORK/KIND.sock (state $WORK/KIND, log
# $WORK/KIND.log); sets SOCK[KIND] and PID[KIND]; its containers are removed on exit
start_server() {
  local kind=$1
  SOCK[$kind]=$WORK/$kind.sock
  launch "$kind" "$kind" "unix://${SOCK[$kind]}"
  PID[$kind]=$LAUNCHED_PID
  CTR_SERVERS+=("$kind")
}

wait_server() { # SERVER (started by start_server): until its /_ping answers 200 (30 s max)
  wait_ping "$1" "${PID[$1]}" --unix-socket "${SOCK[$1]}" http://d/_ping
}

# ------------------------------------------------------------ registry ---
registry_has_image() { # REPO (e.g. docker.io/library/busybox): the registry serves its :latest
  curl -fsI -o /dev/null -m 5 \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$1/manifests/latest"
}

# ensure_registry REPO...: a registry answers at $REGISTRY (started with fixtures/registry.sh,
# and stopped again on exit, when none does) and serves REPO:latest for each REPO (the fixture
# images are pushed when one is missing)
ensure_registry() {
  local repo
  if ! curl -fs -o /dev/null -m 2 "http://$REGISTRY/v2/"; then
    say "no registry at $REGISTRY: starting one with fixtures/registry.sh"
    STARTED_REGISTRY=1
    bash "$REPO_DIR/fixtures/registry.sh" start || die "could not start the registry (fixtures/setup.sh installs it)"
  fi
  for repo in "$@"; do
    if ! registry_has_image "$repo"; then
      say "$repo missing from the registry: pushing the fixture images"
      bash "$REPO_DIR/fixtures/registry.sh" push || die "could not push the fixture images"
      registry_has_image "$repo" || die "the registry still does not serve $repo:latest"
    fi
  done
}

# ------------------------------------------------------------ measuring ---
ms_since() { # T0 (an EPOCHREALTIME): milliseconds from T0 to now
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

median() { # numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

rss_mb() { # PID: VmRSS in MB
  awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

errlog() { # SERVER WHAT FILE: append FILE (a failed CLI's output) to $WORK/SERVER.errors
  { printf '== %s\n' "$2"; head -c 2000 "$3"; echo; } >>"$WORK/$1.errors"
}

# ------------------------------------------------------------- results ---
tsv_file() { echo "$BENCH_TSV_DIR/$TSV_NAME.tsv"; }

tsv_start() { # empties this script's TSV file (when BENCH_TSV_DIR is set)
  [ -n "${BENCH_TSV_DIR:-}" ] || return 0
  mkdir -p "$BENCH_TSV_DIR"
  : >"$(tsv_file)"
}

# tsv_row KEY METRIC PODAPID [PODMAN]: one machine-readable result row (when BENCH_TSV_DIR is set);
# an empty value is written as "-" (not measured)
tsv_row() {
  [ -n "${BENCH_TSV_DIR:-}" ] || return 0
  local clean=()
  for v in "$@"; do clean+=("$(tr '\t\n' '  ' <<<"$v" | sed 's/ *$//')"); done
  printf '%s\t%s\t%s\t%s\n' "${clean[0]}" "${clean[1]}" "${clean[2]:--}" "${clean[3]:--}" >>"$(tsv_file)"
}
