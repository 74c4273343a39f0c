# Shared helpers for scripts/bench/sidecar_*.sh (sourced; the .bash suffix keeps
# `make bench`, which runs every *.sh, from running it on its own).

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
sidecar_bin="$build/sidecar/natsbus-sidecar"
bench_bin="$build/sidecar/bench"
stan_bin="${NATS_STREAMING_SERVER:-$root/.tools/bin/nats-streaming-server}"
seconds="${BENCH_SECONDS:-5}"
work="$(mktemp -d "${TMPDIR:-/tmp}/natsbus-bench.XXXXXX")"
pids=()
# results_open, record (the machine-readable result file) and ratio.
source "$root/scripts/bench/results_lib.bash"

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for f in "$sidecar_bin" "$stan_bin"; do
  if [ ! -x "$f" ]; then echo "missing $f (build first; BUILD_DIR=$build)" >&2; exit 1; fi
done
command -v wrk >/dev/null || { echo "wrk is not installed (make deps)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {  # url [seconds]
  local deadline=$((SECONDS + ${2:-20}))
  until curl -fs -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1" >&2; return 1; }
    sleep 0.05
  done
}

start_stan() {  # sets stan_url, stan_cid
  local port mport
  port=$(free_port); mport=$(free_port)
  stan_cid=bench
  "$stan_bin" -a 127.0.0.1 -p "$port" -m "$mport" -cid "$stan_cid" >"$work/stan.log" 2>&1 &
  pids+=($!)
  stan_url="nats://127.0.0.1:$port"
  wait_http "http://127.0.0.1:$mport/streaming/serverz"
}

# wrk output -> "rps p50_us p99_us non2xx"
parse_wrk() {
  awk '
    function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return (v+0)*1000; if (v ~ /s$/) return (v+0)*1000000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.0f %.0f %d\n", rps, p50, p99, bad + 0 }'
}

# start_app PORT COUNT [latency]: the no-op bench app in the background (sets
# app_pid; its output in $work/app.out), back once it is listening.
start_app() {
  "$bench_bin/natsbus-bench-app" "$@" >"$work/app.out" 2>"$work/app.err" &
  app_pid=$!
  pids+=($app_pid)
  until grep -q ready "$work/app.out" 2>/dev/null; do sleep 0.02; done
}

# The ceiling of any per-message HTTP delivery on this machine: wrk (C, epoll,
# one thread) keeping 64 keep-alive POSTs of 256 B in flight against the same
# no-op app, no NATS at all. Prints requests/s.
http_ceiling() {
  local port ceiling
  printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 256)\n' >"$work/post.lua"
  port=$(free_port)
  start_app "$port" 1000000000
  read -r ceiling _ < <(wrk -t1 -c64 -d"${seconds}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$port/bench" | parse_wrk)
  kill "$app_pid"; wait "$app_pid" 2>/dev/null || true
  echo "$ceiling"
}
