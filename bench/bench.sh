#!/usr/bin/env bash
# Benchmark podapid against the real `podman system service`, side by side in one run.
# This is a measurement, not a test: it always exits 0 once the numbers are printed.
#
# Usage: bench/bench.sh [PODAPID_BIN]
#   PODAPID_BIN defaults to target/release/podapid, else target/debug/podapid (debug builds are
#   much slower; benchmark a release build for real numbers).
#
# Every server gets fresh temporary --root/--runroot directories and listens on a temporary unix
# socket; a second instance of each listens on tcp://127.0.0.1:<free port>. Measured per server:
#   /_ping req/s     wrk -t2 -c16 -d5s, directly over TCP (the main figure) and through
#                    `socat TCP-LISTEN -> UNIX-CONNECT` to the unix socket (wrk has no unix
#                    sockets; socat forks per connection and caps both servers, so it is a
#                    secondary figure)
#   /libpod/info     mean curl time_total over 20 sequential requests (unix socket), after a warm-up
#   idle RSS         VmRSS of the unix-socket server right after that warm-up (and again after load)
#   cold start       launch of a fresh server (new root) until the first successful /_ping, median
#                    of 10 runs; polled every 2 ms over TCP with bash builtins only (/dev/tcp and
#                    `read -t`), because starting curl for each attempt costs ~15 ms here
#   image pull       wall time of one `curl -X POST /v1.41/images/create?fromImage=` of the 3-layer
#                    docker.io/library/busybox-layered:latest (unix socket), each run preceded by a
#                    forced DELETE of the image; median of 5. The first pull on each fresh root is
#                    reported on its own ("cold"): podapid keeps compressed blobs after a removal,
#                    podman keeps nothing, so only podapid's later pulls are served partly locally.
#                    docker.io is rewritten to the local registry 127.0.0.1:5000: podapid gets
#                    CONTAINERS_REGISTRIES_CONF=fixtures/registries.conf, podman uses
#                    /etc/containers/registries.conf.d/50-anchor-mirror.conf (or the same
#                    fixtures file when that drop-in is absent). The registry is started and the
#                    fixture images pushed (fixtures/registry.sh) when needed.
#   /images/json     wrk -t2 -c16 -d5s --timeout 60s on GET /v1.41/images/json over direct TCP,
#                    after importing 200 distinct one-file root filesystems (POST
#                    /images/create?fromSrc=-, in parallel) into each server's TCP instance (not
#                    through socat, which would cap podapid as it does for /_ping). A server whose
#                    single listing takes so long that 5 s would hold fewer than ~64 of them
#                    (podman 4.3.1 needs ~1.5 s per listing of 200 images) is measured for 60 s
#                    instead, so that its figure rests on dozens of completed requests
# Goals: /_ping >= 5x podman req/s, /libpod/info <= 20 ms, idle RSS <= 10 MB, cold start <= 20 ms,
# image pull (median) <= 0.5x podman's time, /images/json >= 5x podman req/s.
# Without podman installed only podapid's column is printed.
#
# Knobs (environment): BENCH_WRK_DURATION (5s), BENCH_INFO_RUNS (20), BENCH_COLD_RUNS (10),
# BENCH_PULL_RUNS (5), BENCH_IMAGES (200), BENCH_IMPORT_JOBS (8 parallel imports),
# BENCH_SLOW_WRK_DURATION (60s: the /images/json wrk run of a server that needs so long per
# listing that wrk -c16 would complete fewer than ~64 listings in BENCH_WRK_DURATION),
# BENCH_SKIP_PODMAN=1 (podapid only, as when podman is not installed), BENCH_KEEP_LOGS=DIR (keep
# the servers' logs as DIR/api-<name>.log), BENCH_TSV_DIR=DIR (also write the table's rows to
# DIR/bench.tsv for bench/all.sh: key, metric, podapid, podman; see bench/lib.sh).
# Everything started here is stopped on exit, temporary directories (and the bind mount podman
# leaves on its storage root) are removed; pulled and imported images live in the servers'
# temporary roots, and podman runs with TMPDIR inside its temporary directory (its import
# handler leaves its api_load.tar* upload copies behind in $TMPDIR, /var/tmp by default). A
# registry this script had to start is stopped again (its fixture storage under
# /var/tmp/podapid-fixtures is kept for the tests). Only 127.0.0.1 and unix sockets are used.
# shellcheck disable=SC2034  # the result arrays are read by row() through a nameref
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRK_DURATION=${BENCH_WRK_DURATION:-5s}
INFO_RUNS=${BENCH_INFO_RUNS:-20}
COLD_RUNS=${BENCH_COLD_RUNS:-10}
PULL_RUNS=${BENCH_PULL_RUNS:-5}
N_IMAGES=${BENCH_IMAGES:-200}
SLOW_WRK_DURATION=${BENCH_SLOW_WRK_DURATION:-60s}
IMPORT_JOBS=${BENCH_IMPORT_JOBS:-8}
PULL_REF=docker.io/library/busybox-layered:latest
STOP_GRACE_STEPS=100 # 5 s
LOGS_PREFIX=api

# ------------------------------------------------------------ arguments ---
bench_bin "${1:-}"
need_tools curl wrk socat ss awk tar xargs
detect_podman

# ------------------------------------------------------ process handling ---
bench_workdir /tmp/podapid-bench.XXXXXX
USED_PORTS=()

free_port() { # prints an unused TCP port on 127.0.0.1
  local port tries
  for ((tries = 0; tries < 200; tries++)); do
    port=$((20000 + RANDOM % 40000))
    [[ " ${USED_PORTS[*]} " == *" $port "* ]] && continue
    if [ -z "$(ss -Htln "sport = :$port")" ]; then
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# ------------------------------------------------------------ measuring ---
exec {SLEEP_FD}<> <(:) # an fd that never has data: `read -t 0.002 -u $SLEEP_FD` sleeps without a fork

ping_tcp() { # PORT: one GET /_ping with bash builtins only; 0 if the answer is 200
  local fd line
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /_ping HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&"$fd"
  IFS= read -r -t 2 -u "$fd" line || line=
  exec {fd}>&-
  [[ $line == "HTTP/1."?" 200"* ]]
}

# cold_start KIND: sets COLD_MS to the time from launch to the first 200 from /_ping, in ms.
# Runs in the main shell (not in $(...)) so that the trap knows about the server it starts.
cold_start() {
  local kind=$1 port t0 t1 name pid attempts=0
  port=$(free_port)
  USED_PORTS+=("$port")
  name=cold-$kind-${#USED_PORTS[@]}
  t0=$EPOCHREALTIME
  launch "$kind" "$name" "tcp://127.0.0.1:$port"
  pid=$LAUNCHED_PID
  until ping_tcp "$port" 2>/dev/null; do
    read -r -t 0.002 -u "$SLEEP_FD" _ || true
    if ((++attempts % 100 == 0)); then
      alive "$pid" || { tail -n 20 "$WORK/$name.log" >&2; die "$kind exited during cold start"; }
      ((attempts < 15000)) || die "$kind cold start: no /_ping answer within ~30 s"
    fi
  done
  t1=$EPOCHREALTIME
  stop_pid "$pid"
  unmount_under "$WORK/$name"
  rm -rf "${WORK:?}/$name" "$WORK/$name.log"
  COLD_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }')
}

# wrk_run NAME URL DURATION [WRK-ARGS...]: prints "requests/s completed-requests" from
# wrk -t2 -c16; warns about errors and non-2xx answers
wrk_run() {
  local name=$1 url=$2 dur=$3 out
  shift 3
  out=$(wrk -t2 -c16 -d"$dur" "$@" "$url" 2>&1) || { say "wrk failed for $name: $out"; echo "0 0"; return; }
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    say "wrk $name: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ' | paste -sd';')"
  fi
  awk '/ requests in / { n = $1 } /^Requests\/sec:/ { r = $2 }
    END { print (r == "" ? 0 : r), (n == "" ? 0 : n) }' <<<"$out"
}

wrk_rps() { # NAME URL: requests/s of wrk -t2 -c16 -d$WRK_DURATION
  wrk_run "$1" "$2" "$WRK_DURATION" | awk '{ print $1 }'
}

# info_mean_ms SOCK: mean time_total of INFO_RUNS sequential GET /v4.0.0/libpod/info
info_mean_ms() {
  local sock=$1 i
  for ((i = 0; i < INFO_RUNS; i++)); do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --unix-socket "$sock" http://d/v4.0.0/libpod/info
  done | awk -v who="$sock" '
    $1 != 200 { bad++ }
    { sum += $2; n++ }
    END {
      if (bad) printf "[bench] WARNING: %d of %d /libpod/info answers were not 200 (%s)\n", bad, n, who > "/dev/stderr"
      printf "%.1f\n", sum / n * 1000 }'
}

# pull_once SOCK: force-removes $PULL_REF, then times one compat pull of it (wall time of the curl
# process, in ms) into PULL_MS; dies when the pull reports an error or the image is then missing
pull_once() {
  local sock=$1 code t0 t1 out=$WORK/pull.out
  code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE --unix-socket "$sock" \
    "http://d/v1.41/images/$PULL_REF?force=true")
  [[ $code == 200 || $code == 404 ]] || die "DELETE $PULL_REF on $sock: HTTP $code"
  t0=$EPOCHREALTIME
  curl -s -X POST --unix-socket "$sock" "http://d/v1.41/images/create?fromImage=$PULL_REF" \
    -o "$out" -w '%{http_code} %{time_total}\n' >"$out.w"
  t1=$EPOCHREALTIME
  read -r code PULL_CURL_S <"$out.w"
  if [ "$code" != 200 ] || grep -q '"error' "$out"; then
    die "pull of $PULL_REF on $sock: HTTP $code: $(tail -c 400 "$out")"
  fi
  code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" "http://d/v1.41/images/$PULL_REF/json")
  [ "$code" = 200 ] || die "$PULL_REF not there after its pull on $sock (inspect: HTTP $code)"
  PULL_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }')
}

make_import_tars() { # $WORK/tars/1.tar .. N.tar: one file `n` holding the number, so all differ
  local n
  mkdir -p "$WORK/tars"
  for ((n = 1; n <= N_IMAGES; n++)); do
    printf '%s\n' "$n" >"$WORK/tars/n"
    tar -C "$WORK/tars" -cf "$WORK/tars/$n.tar" n
  done
}

# import_images NAME BASE-URL: imports the N_IMAGES tars as bench/img:1..N, IMPORT_JOBS at a time
import_images() {
  local name=$1 base=$2 codes
  codes=$(seq 1 "$N_IMAGES" | xargs -P "$IMPORT_JOBS" -I{} \
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/x-tar' \
    --data-binary "@$WORK/tars/{}.tar" "$base/v1.41/images/create?fromSrc=-&repo=bench/img&tag={}" |
    sort | uniq -c | tr -s ' ' | paste -sd, -)
  say "$name imports (count HTTP-status): $codes"
}

count_images() { # BASE-URL: number of entries GET /v1.41/images/json lists
  curl -s -m 60 "$1/v1.41/images/json" | grep -o '"Id":' | wc -l
}

# ------------------------------------------------------------------ run ---
SERVERS=(podapid)
[ -z "$HAVE_PODMAN" ] || SERVERS+=(podman)
declare -A PID_UNIX SOCK PORT_TCP PORT_SOCAT PID_SOCAT
declare -A PING_TCP PING_SOCAT INFO RSS_IDLE RSS_LOADED COLD
declare -A PULL_COLD PULL IMGLIST_RPS N_LISTED LIST_BYTES LIST_MS LIST_DUR LIST_DONE

build_kind=debug
[[ $BIN == */release/* ]] && build_kind=release
say "podapid: $BIN ($build_kind build; $("$BIN" --version 2>/dev/null || echo 'version ?'))"
if [ -n "$HAVE_PODMAN" ]; then say "podman:  $(command -v podman) ($(podman --version))"
else say "podman not installed: podapid only"; fi
say "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (other load skews every number)"
ensure_registry docker.io/library/busybox-layered
tsv_start
say "registry $REGISTRY serves $PULL_REF; podman registries: ${PODMAN_REGISTRIES_CONF:-system (/etc/containers)}"

for s in "${SERVERS[@]}"; do
  SOCK[$s]=$WORK/$s.sock
  launch "$s" "$s-unix" "unix://${SOCK[$s]}"
  PID_UNIX[$s]=$LAUNCHED_PID
  PORT_TCP[$s]=$(free_port); USED_PORTS+=("${PORT_TCP[$s]}")
  launch "$s" "$s-tcp" "tcp://127.0.0.1:${PORT_TCP[$s]}"
  wait_ping "$s-unix" "${PID_UNIX[$s]}" --unix-socket "${SOCK[$s]}" http://d/_ping
  wait_ping "$s-tcp" "$LAUNCHED_PID" "http://127.0.0.1:${PORT_TCP[$s]}/_ping"
  PORT_SOCAT[$s]=$(free_port); USED_PORTS+=("${PORT_SOCAT[$s]}")
  socat "TCP-LISTEN:${PORT_SOCAT[$s]},bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:${SOCK[$s]}" \
    >"$WORK/socat-$s.log" 2>&1 &
  PID_SOCAT[$s]=$!
  PIDS+=("${PID_SOCAT[$s]}")
  wait_ping "socat-$s" "${PID_SOCAT[$s]}" "http://127.0.0.1:${PORT_SOCAT[$s]}/_ping"
  say "$s up: unix ${SOCK[$s]} (pid ${PID_UNIX[$s]}), tcp 127.0.0.1:${PORT_TCP[$s]}, socat 127.0.0.1:${PORT_SOCAT[$s]}"
done

for s in "${SERVERS[@]}"; do
  say "$s: /libpod/info warm-up, idle RSS, $INFO_RUNS timed /libpod/info"
  curl -s -o /dev/null --unix-socket "${SOCK[$s]}" http://d/v4.0.0/libpod/info
  sleep 0.5
  RSS_IDLE[$s]=$(rss_mb "${PID_UNIX[$s]}")
  INFO[$s]=$(info_mean_ms "${SOCK[$s]}")
done

for s in "${SERVERS[@]}"; do
  say "$s: wrk /_ping for $WRK_DURATION over TCP, then through socat"
  PING_TCP[$s]=$(wrk_rps "$s-tcp" "http://127.0.0.1:${PORT_TCP[$s]}/_ping")
  PING_SOCAT[$s]=$(wrk_rps "$s-socat" "http://127.0.0.1:${PORT_SOCAT[$s]}/_ping")
  sleep 0.5
  RSS_LOADED[$s]=$(rss_mb "${PID_UNIX[$s]}")
done

for s in "${SERVERS[@]}"; do
  say "$s: cold start x $COLD_RUNS"
  samples=()
  for ((i = 0; i < COLD_RUNS; i++)); do
    cold_start "$s"
    samples+=("$COLD_MS")
  done
  say "$s cold starts (ms): ${samples[*]}"
  COLD[$s]=$(printf '%s\n' "${samples[@]}" | median)
done

for s in "${SERVERS[@]}"; do
  say "$s: pull $PULL_REF: first (cold) pull on the fresh root, then $PULL_RUNS x (remove, pull)"
  pull_once "${SOCK[$s]}"
  PULL_COLD[$s]=$PULL_MS
  say "$s cold pull: $PULL_MS ms (curl time_total ${PULL_CURL_S}s)"
  samples=() totals=()
  for ((i = 0; i < PULL_RUNS; i++)); do
    pull_once "${SOCK[$s]}"
    samples+=("$PULL_MS")
    totals+=("$PULL_CURL_S")
  done
  say "$s pulls (ms, curl wall time): ${samples[*]}; curl time_total (s): ${totals[*]}"
  PULL[$s]=$(printf '%s\n' "${samples[@]}" | median)
done

make_import_tars
for s in "${SERVERS[@]}"; do
  base=http://127.0.0.1:${PORT_TCP[$s]}
  say "$s: importing $N_IMAGES images into the TCP instance ($IMPORT_JOBS in parallel)"
  t0=$EPOCHREALTIME
  import_images "$s" "$base"
  say "$s: imports took $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
  N_LISTED[$s]=$(count_images "$base")
  read -r "LIST_BYTES[$s]" secs < <(curl -s -m 120 -o /dev/null -w '%{size_download} %{time_total}\n' \
    "$base/v1.41/images/json")
  LIST_MS[$s]=$(awk -v t="$secs" 'BEGIN { printf "%.1f\n", t * 1000 }')
  # listings wrk could complete in WRK_DURATION at best (all CPUs busy): too few -> a longer run
  LIST_DUR[$s]=$(awk -v d="$WRK_DURATION" -v t="$secs" -v c="$(nproc)" -v slow="$SLOW_WRK_DURATION" 'BEGIN {
    if (d !~ /^[0-9.]+s?$/) { print d; exit }
    print (((d + 0) * c / (t > 0 ? t : 1e-6) < 64) ? slow : d) }')
  say "$s lists ${N_LISTED[$s]} images (${LIST_BYTES[$s]} bytes, one listing ${LIST_MS[$s]} ms);" \
    "wrk /images/json for ${LIST_DUR[$s]} over TCP"
  if ((N_LISTED[$s] < N_IMAGES)); then
    say "WARNING: $s lists only ${N_LISTED[$s]} of $N_IMAGES images: its /images/json figure is not reported"
    IMGLIST_RPS[$s]=n/a
    LIST_DONE[$s]=0
  else
    read -r "IMGLIST_RPS[$s]" "LIST_DONE[$s]" < \
      <(wrk_run "$s-images" "$base/v1.41/images/json" "${LIST_DUR[$s]}" --timeout 60s)
    say "$s: ${LIST_DONE[$s]} listings in ${LIST_DUR[$s]}: ${IMGLIST_RPS[$s]} req/s"
  fi
done

# ---------------------------------------------------------------- report ---
# row METRIC KEY GOAL: KEY selects the arrays; higher-is-better only for the req/s rows
row() {
  local metric=$1 goal=$3 a b ratio met better=lower
  local -n values=$2
  a=${values[podapid]}
  b=${values[podman]:-}
  [[ $2 == PING_* || $2 == *_RPS ]] && better=higher
  ratio=n/a
  if [ -n "$b" ]; then
    ratio=$(awk -v a="$a" -v b="$b" -v h="$better" 'BEGIN {
      if (a <= 0 || b <= 0) { print "n/a"; exit }
      printf "%.1fx\n", (h == "higher") ? a / b : b / a }')
  fi
  met=$(awk -v a="$a" -v g="$goal" -v r="${ratio%x}" 'BEGIN {
      if (g == "-") { print "-"; exit }
      n = g; gsub(/[^0-9.]/, "", n); n += 0          # the number in the goal text
      if (g ~ /podman/ && g ~ /^<=/) ok = (r == "n/a") ? -1 : (r + 0 >= 1 / n)  # <= N x podman time
      else if (g ~ /podman/) ok = (r == "n/a") ? -1 : (r + 0 >= n)
      else ok = (a + 0 <= n)
      print ok == 1 ? "yes" : (ok == 0 ? "NO" : "?") }')
  tsv_row "$2" "$metric" "$a" "$b"
  if [ -n "$HAVE_PODMAN" ]; then
    printf '%-34s | %12s | %12s | %7s | %-20s | %s\n' "$metric" "$a" "$b" "$ratio" "$goal" "$met"
  else
    printf '%-34s | %12s | %-20s | %s\n' "$metric" "$a" "$goal" "$met"
  fi
}

echo
if [ -n "$HAVE_PODMAN" ]; then
  printf '%-34s | %12s | %12s | %7s | %-20s | %s\n' metric podapid podman ratio goal met
  printf '%s\n' "-----------------------------------+--------------+--------------+---------+----------------------+----"
else
  printf '%-34s | %12s | %-20s | %s\n' metric podapid goal met
  printf '%s\n' "-----------------------------------+--------------+----------------------+----"
fi
row "/_ping req/s (wrk, direct TCP)" PING_TCP ">= 5x podman req/s"
row "/_ping req/s (wrk via socat, unix)" PING_SOCAT "-"
row "/v4.0.0/libpod/info mean ms" INFO "<= 20 ms"
row "idle RSS MB (after warm-up)" RSS_IDLE "<= 10 MB"
row "RSS MB after the load above" RSS_LOADED "-"
row "cold start median ms (to /_ping)" COLD "<= 20 ms"
row "image pull median ms (3 layers)" PULL "<= 0.5x podman"
row "image pull ms, cold (first pull)" PULL_COLD "-"
row "/images/json req/s ($N_IMAGES images)" IMGLIST_RPS ">= 5x podman req/s"
echo
echo "ratio: how many times better podapid is (req/s: podapid/podman; ms and MB: podman/podapid)."
echo "podapid $build_kind build $BIN; wrk -t2 -c16 -d$WRK_DURATION; $INFO_RUNS info requests; $COLD_RUNS cold starts; load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "image pull: $PULL_REF from $REGISTRY over the unix socket; wall time of the curl process;"
echo "  median of $PULL_RUNS runs each after a forced DELETE (podapid keeps compressed blobs, podman keeps"
echo "  nothing); the cold row is each server's first pull on its fresh root."
echo "/images/json: wrk -t2 -c16 --timeout 60s over direct TCP to each server's TCP instance, into which"
echo "  $N_IMAGES distinct one-file images were imported (fromSrc=-); per server: images listed, bytes"
echo "  per listing, one sequential listing, wrk duration and completed listings:"
for s in "${SERVERS[@]}"; do
  printf '  %s: %s images, %s bytes, %s ms, %s, %s listings\n' "$s" "${N_LISTED[$s]}" \
    "${LIST_BYTES[$s]}" "${LIST_MS[$s]}" "${LIST_DUR[$s]}" "${LIST_DONE[$s]}"
done
