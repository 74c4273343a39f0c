#!/usr/bin/env bash
# Delivery through the sidecar (messages POSTed to a trivial local app, acked on
# its 200) vs a direct cnats manual-ack subscriber on the same server in the
# same run: throughput at maxInFlight 1 and 64 over pre-stored 256-byte
# messages, and p50/p99 publish-to-receive latency at a low rate (200 msg/s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/sidecar_lib.bash"
results_open sidecar_delivery

messages="${BENCH_MESSAGES:-20000}"
latency_messages=400
start_stan

# run_sidecar CHANNEL MAX_IN_FLIGHT APP_PORT -> sets sc_pid, sc_port
run_sidecar() {
  sc_port=$(free_port)
  "$sidecar_bin" --nats-url "$stan_url" --cluster-id "$stan_cid" --client-id "bench-sub-${1//./-}" \
    --listen "127.0.0.1:$sc_port" --log-level warn --app-url "http://127.0.0.1:$3" \
    --subscriptions "[{\"subject\":\"$1\",\"path\":\"/bench\",\"deliverAllAvailable\":true,\"maxInFlight\":$2}]" \
    >"$work/sidecar-$1.log" 2>&1 &
  sc_pid=$!
  pids+=($sc_pid)
}

echo "payload 256 B, $messages stored messages per throughput run, nats-streaming-server memory store, $(nproc) cores"
printf '%-40s %12s %12s\n' "run" "msgs/s" "ratio"
declare -A ratio_at
for mif in 1 64; do
  "$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" "direct.$mif" "$messages" 0 256
  "$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" "sidecar.$mif" "$messages" 0 256
  direct=$("$bench_bin/natsbus-bench-direct-subscribe" "$stan_url" "$stan_cid" "direct.$mif" "$messages" "$mif" |
    sed -E 's/msgs_per_s=//')
  app_port=$(free_port)
  start_app "$app_port" "$messages"
  run_sidecar "sidecar.$mif" "$mif" "$app_port"
  wait "$app_pid" || { echo "the app did not receive every message:" >&2; cat "$work/app.err" "$work/sidecar-sidecar.$mif.log" >&2; exit 1; }
  kill "$sc_pid"; wait "$sc_pid" || true
  sidecar=$(sed -E 's/msgs_per_s=//' "$work/app.out" | tail -1)
  ratio_at[$mif]=$(ratio "$sidecar" "$direct")
  record delivery maxInFlight "$mif" "sidecar -> app, per message" "$sidecar" "$direct" "direct cnats manual-ack subscriber" msgs/s
  printf '%-40s %12s %12s\n' "direct cnats manual-ack, maxInFlight $mif" "$direct" "1.00"
  printf '%-40s %12s %12s\n' "sidecar -> app, maxInFlight $mif" "$sidecar" "${ratio_at[$mif]}"
done

# If the HTTP-only ceiling is below 0.5x the direct subscriber, 0.5x is out of
# reach for the sidecar whatever its own overhead.
ceiling=$(http_ceiling)
ceiling_ratio=$(ratio "$ceiling" "$direct")
record delivery maxInFlight 64 "HTTP only: wrk -> no-op app, 64 conns (no NATS)" "$ceiling" "$direct" \
  "direct cnats manual-ack subscriber" msgs/s
printf '%-40s %12s %12s\n' "wrk -> no-op app, 64 conns (HTTP only)" "$ceiling" "$ceiling_ratio"

echo
echo "publish-to-receive latency, $latency_messages messages at 200/s, maxInFlight 1:"
"$bench_bin/natsbus-bench-direct-subscribe" "$stan_url" "$stan_cid" lat.direct "$latency_messages" 1 latency \
  >"$work/direct-lat.out" &
direct_lat_pid=$!
pids+=($direct_lat_pid)
until grep -q ready "$work/direct-lat.out" 2>/dev/null; do sleep 0.02; done
"$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" lat.direct "$latency_messages" 5000 256
wait "$direct_lat_pid"
echo "  direct cnats subscriber: $(tail -1 "$work/direct-lat.out")"

app_port=$(free_port)
start_app "$app_port" "$latency_messages" latency
run_sidecar lat.sidecar 1 "$app_port"
wait_http "http://127.0.0.1:$sc_port/readyz"
"$bench_bin/natsbus-bench-timed-publish" "$stan_url" "$stan_cid" lat.sidecar "$latency_messages" 5000 256
wait "$app_pid"
echo "  sidecar -> app:          $(tail -1 "$work/app.out")"
echo
echo "throughput ratio sidecar/direct: maxInFlight 1 = ${ratio_at[1]}, maxInFlight 64 = ${ratio_at[64]}   (target >= 0.5 at 64)"
echo "HTTP-only ceiling (wrk -> no-op app, 64 connections) / direct at 64 = $ceiling_ratio; sidecar / ceiling = $(ratio "${sidecar}" "$ceiling")"
